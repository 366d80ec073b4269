import { chineseDate, licenceKindNames, percent, withSeparators } from './format.ts';
import { ReportDocument } from './pdf/report-document.ts';

const categoryNames: Record<string, string> = { os: '操作系统', office: '办公软件', antivirus: '杀毒软件', other: '其他软件' };
const statusNames: Record<string, string> = { pending: '待审核', in_use: '在用', rejected: '未通过', revoked: '已撤销', retired: '已报废' };

export interface RegisterDocument {
  department: { code: string; name: string };
  assets: Array<{
    id: string;
    product: string;
    category: string;
    licences: number;
    licences_in_use: number;
    licence_kind: string;
    acquired_on: string;
    value: string;
    source: string;
    invoice: string | null;
    status: string;
  }>;
  installedBase: { as_of: string; computers: number; servers: number } | null;
  compliance: { os: string | null; office: string | null; antivirus: string | null; overall: string | null };
  asOf: string;
}

const pct = (r: string | null) => (r === null ? '未报告' : percent(r));

/** A unit's software-asset register (软件资产台账) as a document to print, sign and keep. */
export async function renderSoftwareRegister(d: RegisterDocument, issuedAt: Date): Promise<Buffer> {
  const pdf = await ReportDocument.create({ title: `软件资产台账 · ${d.department.name}`, createdAt: issuedAt });
  pdf.title('软件资产台账');
  pdf.fields([
    ['单位', `${d.department.name}（${d.department.code}）`],
    ['截至', chineseDate(d.asOf)],
    [
      '计算机 / 服务器',
      d.installedBase ? `${d.installedBase.computers} 台 / ${d.installedBase.servers} 台（${chineseDate(d.installedBase.as_of)} 报告）` : '尚未报告',
    ],
    [
      '正版化率',
      `操作系统 ${pct(d.compliance.os)}，办公软件 ${pct(d.compliance.office)}，杀毒软件 ${pct(d.compliance.antivirus)}；综合 ${pct(d.compliance.overall)}`,
    ],
  ]);
  pdf.table(
    [
      { header: '编号', width: 40 },
      { header: '软件名称', width: 130 },
      { header: '类别', width: 55 },
      { header: '授权方式', width: 50 },
      { header: '套数', width: 38, align: 'right' },
      { header: '在用', width: 38, align: 'right' },
      { header: '取得日期', width: 72 },
      { header: '价值（元）', width: 70, align: 'right' },
      { header: '来源', width: 90 },
      { header: '状态', width: 45 },
    ],
    d.assets.map((a) => [
      a.id,
      a.product,
      categoryNames[a.category] ?? a.category,
      licenceKindNames[a.licence_kind] ?? a.licence_kind,
      String(a.licences),
      String(a.licences_in_use),
      chineseDate(a.acquired_on),
      withSeparators(a.value),
      a.source === 'receipt' ? `发票 ${a.invoice ?? ''}` : '原有软件',
      statusNames[a.status] ?? a.status,
    ]),
  );
  pdf.signatures(['填报人', '单位负责人', '财务审核']);
  return pdf.toBuffer(`软件资产台账 · ${d.department.name} · ${chineseDate(d.asOf)}`);
}
