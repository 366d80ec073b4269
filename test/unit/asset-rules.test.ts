import { describe, expect, it } from 'vitest';
import { complianceRate, inventoryDifferences, licencesBeyondComputers, lowest, pooledCompliance, unitCompliance } from '../../server/assets/asset-rules.ts';

describe('complianceRate', () => {
  it.each([
    [0, 10, '0.0000'],
    [1, 3, '0.3333'],
    [2, 3, '0.6667'],
    [10, 10, '1.0000'],
    [11, 10, '1.0000'],
    [1, 20_000, '0.0001'],
    [1, 30_000, '0.0000'],
    [0, 0, '1.0000'],
    [5, 0, '1.0000'],
    [5, null, null],
  ])('%i licences on %s computers → %s', (licences, computers, expected) => {
    expect(complianceRate(licences, computers)).toBe(expected);
  });
});

describe('overall compliance', () => {
  it('is the lowest of the three categories, and unknown when any is', () => {
    expect(lowest(['1.0000', '0.5000', '0.7500'])).toBe('0.5000');
    expect(lowest(['0.1000', '0.5000', null])).toBeNull();
    expect(unitCompliance({ os: 10, office: 4, antivirus: 8 }, 8)).toEqual({ os: '1.0000', office: '0.5000', antivirus: '1.0000', overall: '0.5000' });
  });

  it('pools units without letting one unit’s spare licences cover another', () => {
    const pooled = pooledCompliance([
      { licences: { os: 100, office: 0, antivirus: 0 }, computers: 10 },
      { licences: { os: 0, office: 10, antivirus: 10 }, computers: 10 },
      { licences: { os: 50, office: 50, antivirus: 50 }, computers: null },
    ]);
    expect(pooled).toEqual({ units: 3, reported: 2, computers: 20, os: '0.5000', office: '0.5000', antivirus: '0.5000', overall: '0.5000' });
    expect(pooledCompliance([])).toEqual({ units: 0, reported: 0, computers: 0, os: null, office: null, antivirus: null, overall: null });
  });
});

describe('inventoryDifferences', () => {
  it('counts an asset left out as none found, and lists missing and surplus', () => {
    const { lines, differences } = inventoryDifferences(
      [
        { id: '1', licences_in_use: 5 },
        { id: '2', licences_in_use: 5 },
        { id: '3', licences_in_use: 5 },
      ],
      [
        { asset_id: '1', counted: 5 },
        { asset_id: '2', counted: 7 },
      ],
    );
    expect(lines).toHaveLength(3);
    expect(differences).toEqual([
      { asset_id: '2', expected: 5, counted: 7, kind: 'surplus', difference: 2 },
      { asset_id: '3', expected: 5, counted: 0, kind: 'missing', difference: -5 },
    ]);
    expect(inventoryDifferences([], []).differences).toEqual([]);
  });
});

describe('licencesBeyondComputers', () => {
  it('warns only for the categories being added that would exceed the computers', () => {
    expect(licencesBeyondComputers({ os: 8, office: 8, antivirus: 0 }, { os: 3, antivirus: 10 }, 10)).toEqual([
      { category: 'os', licences: 11, computers: 10 },
    ]);
    expect(licencesBeyondComputers({ os: 8, office: 20, antivirus: 0 }, { os: 2 }, 10)).toEqual([]);
    expect(licencesBeyondComputers({ os: 8, office: 8, antivirus: 0 }, { os: 30 }, null)).toEqual([]);
  });
});
