/** Small helpers to write WeCom's callback XML (CDATA for strings, bare numbers), spec §4. */

/** A CDATA section; `]]>` inside the text is split across two sections as XML requires. */
export function cdata(s: string): string {
  return `<![CDATA[${s.split(']]>').join(']]]]><![CDATA[>')}]]>`;
}

export type XmlValue = string | number | XmlNode | XmlNode[] | XmlValue[];
export interface XmlNode {
  [name: string]: XmlValue;
}

/**
 * Serialises `{ Name: value }`: strings become CDATA, numbers bare text, objects nested elements and
 * arrays repeated sibling elements (how WeCom repeats `SpRecord`, `Details`, `Comments`, spec §4.3).
 */
export function toXml(node: XmlNode): string {
  let out = '';
  for (const [name, value] of Object.entries(node)) out += element(name, value);
  return out;
}

function element(name: string, value: XmlValue): string {
  if (Array.isArray(value)) return value.map((v) => element(name, v)).join('');
  if (typeof value === 'number') return `<${name}>${value}</${name}>`;
  if (typeof value === 'string') return `<${name}>${cdata(value)}</${name}>`;
  return `<${name}>${toXml(value)}</${name}>`;
}
