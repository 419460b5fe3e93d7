import type { ConnectorSchema, ObjectSchema } from '../../core/connector.ts';

/**
 * A folder of files has no fixed objects: `csv` and `xlsx` describe the records the poll trigger
 * yields and the fields every file record has. A file's own columns are whatever its header row says.
 */
const fileRecord = (label: string, sheet: boolean): ObjectSchema => ({
  label,
  idField: 'file',
  fields: {
    file: { type: 'string', label: 'path relative to the root', required: true },
    format: { type: 'string', label: 'csv or xlsx', options: [{ value: 'csv' }, { value: 'xlsx' }] },
    ...(sheet ? { sheet: { type: 'string' as const, label: 'sheet name' } } : {}),
    modified: { type: 'datetime', label: 'last change of the file' },
    rows: { type: 'array', label: 'rows, keyed by field name' },
    count: { type: 'integer', label: 'rows in this record' },
    fields: { type: 'array', label: 'field names, in column order' },
    part: { type: 'integer', label: 'part of a file split by maxRows (1, 2, …)' },
    offset: { type: 'integer', label: 'data rows before this part' },
    last: { type: 'boolean', label: 'the final part of the file' },
    row: { type: 'integer', label: 'row number as Excel shows it (perRow)' },
    values: { type: 'object', label: "one row's values (perRow)" },
    error: { type: 'object', label: 'why the file could not be read (code, message)' },
  },
});

export const fileSchema: ConnectorSchema = {
  objects: {
    csv: fileRecord('CSV file', false),
    xlsx: fileRecord('XLSX workbook', true),
  },
};
