import type { ConnectorSchema } from '../../core/connector.ts';

/** A generic REST service has no fixed objects; `item` describes the shape the poll trigger expects. */
export const httpSchema: ConnectorSchema = {
  objects: {
    item: {
      label: 'REST item',
      idField: 'id',
      fields: {
        id: { type: 'string', label: 'id' },
        updatedAt: { type: 'datetime', label: 'last change' },
        name: { type: 'string', label: 'name' },
      },
    },
  },
};
