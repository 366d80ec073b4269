import type { Knex } from 'knex';
import type { Actor } from '../auth/roles.ts';
import type { Table } from '../exports/tables.ts';
import { exportFileName, titleBlock } from '../exports/title-block.ts';
import { todayInShanghai } from '../http/schemas.ts';
import { licenceKindNames } from '../../reports/format.ts';
import { renderSoftwareRegister } from '../../reports/software-register-pdf.ts';
import { unitComplianceOf } from './compliance.ts';
import { wholeRegister } from './register.ts';

const categoryNames: Record<string, string> = { os: '操作系统', office: '办公软件', antivirus: '杀毒软件', other: '其他软件' };
const statusNames: Record<string, string> = { pending: '待审核', in_use: '在用', rejected: '未通过', revoked: '已撤销', retired: '已报废' };

/** The register as a spreadsheet: one row per asset, under the title block every export carries, named like them. */
export async function registerTable(db: Knex, actor: Actor, departmentId: string): Promise<{ table: Table; fileBase: string }> {
  const r = await wholeRegister(db, actor, departmentId);
  const asOf = todayInShanghai();
  const unit = `${r.department.name}（${r.department.code}）`;
  return {
    fileBase: exportFileName(r.department.name, '软件资产台账', asOf),
    table: {
      name: '软件资产台账',
      title: titleBlock(
        `${r.department.name}软件资产台账`,
        [
          ['单位', unit],
          ['截至', asOf],
        ],
        actor,
      ),
      columns: [
        { header: '编号', key: 'id' },
        { header: '软件名称', key: 'product', width: 28 },
        { header: '类别', key: 'category' },
        { header: '授权方式', key: 'licence_kind' },
        { header: '套数', key: 'licences' },
        { header: '在用套数', key: 'licences_in_use' },
        { header: '取得日期', key: 'acquired_on' },
        { header: '价值', key: 'value', money: true },
        { header: '来源', key: 'source' },
        { header: '来源发票', key: 'invoice', width: 22 },
        { header: '发票行', key: 'receipt_line_no' },
        { header: '状态', key: 'status' },
        { header: '说明', key: 'status_reason', width: 24 },
      ],
      rows: r.assets.map((a) => ({
        id: a.id,
        product: a.product,
        category: categoryNames[a.category] ?? a.category,
        licence_kind: licenceKindNames[a.licence_kind] ?? a.licence_kind,
        licences: a.licences,
        licences_in_use: a.licences_in_use,
        acquired_on: a.acquired_on,
        value: a.value,
        source: a.source === 'receipt' ? '发票' : '原有软件',
        invoice: a.invoice,
        receipt_line_no: a.receipt_line_no,
        status: statusNames[a.status] ?? a.status,
        status_reason: a.status_reason,
      })),
    },
  };
}

/** The register PDF of a unit, with its installed base and compliance as of today. */
export async function registerPdf(db: Knex, actor: Actor, departmentId: string) {
  const r = await wholeRegister(db, actor, departmentId);
  const c = await unitComplianceOf(db, actor, departmentId);
  const asOf = todayInShanghai();
  const pdf = await renderSoftwareRegister(
    { department: r.department, assets: r.assets, installedBase: c.installed_base, compliance: c, asOf },
    new Date(`${asOf}T00:00:00+08:00`),
  );
  return { pdf, fileBase: exportFileName(r.department.name, '软件资产台账', asOf) };
}
