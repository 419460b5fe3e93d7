import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cnDate, cnDateTime, cnMillis, cnTime, cnyWords, fen, toMillis, yuan } from './functions.ts';

describe('fen / yuan', () => {
  it('converts yuan to whole fen without floating-point loss', () => {
    assert.equal(fen(12.34), 1234);
    assert.equal(fen(1.005), 101);
    assert.equal(fen(0.1 + 0.2), 30);
    assert.equal(fen('1280'), 128_000);
    assert.equal(fen(-1.005), -101);
    assert.equal(fen(0), 0);
    assert.equal(fen(undefined), undefined);
    assert.throws(() => fen('十二'), { message: "$fen: expected a number, got '十二'" });
    assert.throws(() => fen(null), { message: '$fen: expected a number, got null' });
  });

  it('converts fen to yuan', () => {
    assert.equal(yuan(12345), 123.45);
    assert.equal(yuan(30), 0.3);
    assert.equal(yuan('128000'), 1280);
    assert.equal(yuan(undefined), undefined);
  });
});

describe('cnyWords', () => {
  const cases: Array<[number | string, string]> = [
    [0, '零元整'],
    [10, '壹拾元整'],
    [1005, '壹仟零伍元整'],
    [10_005, '壹万零伍元整'],
    [100_010, '壹拾万零壹拾元整'],
    [200_000, '贰拾万元整'],
    [1_010_000, '壹佰零壹万元整'],
    [1_000_000, '壹佰万元整'],
    [100_001_000, '壹亿零壹仟元整'],
    [100_000_500, '壹亿零伍佰元整'],
    [1_680_000, '壹佰陆拾捌万元整'],
    [1005.5, '壹仟零伍元伍角整'],
    [1000.05, '壹仟元零伍分'],
    [10.25, '壹拾元贰角伍分'],
    [0.5, '伍角整'],
    [0.05, '伍分'],
    [-3, '负叁元整'],
    [-0.001, '零元整'],
    [1.005, '壹元零壹分'],
    ['1280', '壹仟贰佰捌拾元整'],
    [12_345_678_901.23, '壹佰贰拾叁亿肆仟伍佰陆拾柒万捌仟玖佰零壹元贰角叁分'],
  ];
  for (const [amount, words] of cases) {
    it(`${amount} → ${words}`, () => assert.equal(cnyWords(amount), words));
  }
  it('passes undefined through', () => assert.equal(cnyWords(undefined), undefined));
});

describe('Beijing time', () => {
  it('reads WeCom seconds, Neocrm milliseconds and Kingdee local time alike', () => {
    const ms = Date.UTC(2019, 8, 27, 11, 40, 28); // 2019-09-27 19:40:28 in Beijing
    assert.equal(toMillis(1569584428), ms);
    assert.equal(toMillis('1569584428'), ms);
    assert.equal(toMillis(ms), ms);
    assert.equal(toMillis('2019-09-27 19:40:28'), ms);
    assert.equal(toMillis('2019-09-27T19:40:28'), ms);
    assert.equal(toMillis('2019-09-27T11:40:28Z'), ms);
    assert.equal(toMillis('2019-09-27'), Date.UTC(2019, 8, 26, 16, 0, 0));
  });

  it('formats in Beijing time across the UTC date line', () => {
    const lateUtc = Date.UTC(2026, 2, 9, 20, 30, 0); // 2026-03-10 04:30 in Beijing
    assert.equal(cnDate(lateUtc), '2026-03-10');
    assert.equal(cnDateTime(lateUtc), '2026-03-10 04:30:00');
    assert.equal(cnTime(lateUtc), '04:30:00');
    assert.equal(cnTime(undefined), undefined);
    assert.equal(cnMillis('2026-03-10 04:30:00'), lateUtc);
    assert.equal(cnDate(undefined), undefined);
  });

  it('rejects what is not a time', () => {
    assert.throws(() => cnDate('明天'), { message: "$cnDate: '明天' is not a time" });
    assert.throws(() => cnDate({}), { message: '$cnDate: expected a time, got an object' });
  });
});
