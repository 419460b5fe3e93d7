/** The connectors built into Qiao. A connection's `type` names one of these. */
import type { ConnectorDescriptor } from '../core/connector.ts';
import { qiaoConnector } from '../engine/sync/qiao-connector.ts';
import { dingtalkConnector } from './dingtalk/index.ts';
import { fileConnector } from './file/index.ts';
import { httpConnector } from './http/index.ts';
import { kingdeeConnector } from './kingdee/index.ts';
import { neocrmConnector } from './neocrm/index.ts';
import { wecomConnector } from './wecom/index.ts';

/**
 * A fresh list per call: the engine-provided `qiao` type (two-way sync, reviews) is bound to the hub
 * that made it (`bindQiaoServices`), so each hub needs its own.
 */
export function builtinConnectors(): ConnectorDescriptor[] {
  return [
    httpConnector,
    fileConnector,
    kingdeeConnector,
    neocrmConnector,
    wecomConnector,
    dingtalkConnector,
    qiaoConnector(),
  ];
}
