/** The connectors built into Qiao. A connection's `type` names one of these. */
import type { ConnectorDescriptor } from '../core/connector.ts';
import { dingtalkConnector } from './dingtalk/index.ts';
import { httpConnector } from './http/index.ts';
import { kingdeeConnector } from './kingdee/index.ts';
import { neocrmConnector } from './neocrm/index.ts';
import { wecomConnector } from './wecom/index.ts';

export function builtinConnectors(): ConnectorDescriptor[] {
  return [httpConnector, kingdeeConnector, neocrmConnector, wecomConnector, dingtalkConnector];
}
