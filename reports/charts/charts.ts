import type { EChartsOption } from 'echarts';

/*
 * The programme's pictures, drawn by Apache ECharts on the server as SVG (SSR mode: no DOM, no
 * browser, no CDN). The same SVG goes into the pages and, through svg-to-pdfkit, into the PDFs.
 * Builders take plain figures and return the SVG text; amounts are yuan strings, shown in 万元.
 */

export interface ChartSize {
  width: number;
  height: number;
}

const palette = { completed: '#2e7d32', procuring: '#1565c0', awaiting_funds: '#ef6c00', not_started: '#9e9e9e', accent: '#8b1a1a' };
const font = { fontFamily: "'Noto Sans SC', 'Jiangbu Noto Sans SC', 'Microsoft YaHei', sans-serif", fontSize: 12, color: '#222' };

/** Renders an option to SVG text; animation off, so the picture is the final state. */
async function renderSvg(option: EChartsOption, size: ChartSize): Promise<string> {
  const echarts = await import('echarts');
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: size.width, height: size.height, locale: 'ZH' });
  try {
    chart.setOption({ animation: false, textStyle: font, ...option });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

export const statusLabels: Record<string, string> = { completed: '已完成', procuring: '采购中', awaiting_funds: '已申请经费', not_started: '未开展' };
const statuses = ['completed', 'procuring', 'awaiting_funds', 'not_started'] as const;

export interface StatusCounts {
  completed: number;
  procuring: number;
  awaiting_funds: number;
  not_started: number;
}

/** Units by status, one stacked bar per group and one for all units. */
export function unitsByStatusChart(total: StatusCounts, byGroup: Array<{ group: string; counts: StatusCounts }>, size: ChartSize): Promise<string> {
  const rows = [...byGroup.map((g) => ({ name: g.group, counts: g.counts })), { name: '合计', counts: total }].reverse();
  return renderSvg(
    {
      legend: { top: 0, data: statuses.map((s) => statusLabels[s]!) },
      grid: { left: 8, right: 24, top: 32, bottom: 8, containLabel: true },
      xAxis: { type: 'value', minInterval: 1 },
      yAxis: { type: 'category', data: rows.map((r) => r.name) },
      series: statuses.map((s) => ({
        name: statusLabels[s],
        type: 'bar' as const,
        stack: 'units',
        itemStyle: { color: palette[s] },
        label: {
          show: true,
          textBorderColor: 'transparent',
          textBorderWidth: 0,
          formatter: (p: { value: unknown }) => (Number(p.value) > 0 ? String(p.value) : ''),
          color: '#fff',
        },
        data: rows.map((r) => r.counts[s]),
      })),
    },
    size,
  );
}

/** Completion rate over time (each day a unit changed status), with the target rate and date. */
export function completionChart(
  points: Array<{ date: string; rate: number }>,
  target: { date: string; rate: number } | null,
  size: ChartSize,
): Promise<string> {
  const pct = (r: number) => Math.round(r * 10000) / 100;
  return renderSvg(
    {
      grid: { left: 8, right: 32, top: 32, bottom: 8, containLabel: true },
      legend: { top: 0, data: target ? ['完成率', '目标'] : ['完成率'] },
      xAxis: { type: 'time', max: target && points.length && target.date > points[points.length - 1]!.date ? target.date : undefined },
      yAxis: { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } },
      series: [
        {
          name: '完成率',
          type: 'line',
          step: 'end',
          symbolSize: 5,
          itemStyle: { color: palette.completed },
          areaStyle: { color: 'rgba(46,125,50,0.12)' },
          data: points.map((p) => [p.date, pct(p.rate)]),
        },
        ...(target
          ? [
              {
                name: '目标',
                type: 'line' as const,
                itemStyle: { color: palette.accent },
                lineStyle: { type: 'dashed' as const },
                symbol: 'diamond',
                symbolSize: 9,
                label: { show: true, position: 'left' as const, formatter: `目标 ${pct(target.rate)}%` },
                data: [[target.date, pct(target.rate)]],
                markLine: {
                  symbol: 'none',
                  silent: true,
                  lineStyle: { color: palette.accent, type: 'dashed' as const },
                  label: { show: false },
                  data: [{ xAxis: target.date }],
                },
              },
            ]
          : []),
      ],
    },
    size,
  );
}

const wan = (yuan: string) => Math.round(Number(yuan) / 100) / 100;

/** The fund: appropriated, allocated, paid and what remains to allocate, in 万元. */
export function fundUseChart(
  f: { appropriated: string; allocated: string; disbursed: string; available_to_allocate: string },
  size: ChartSize,
): Promise<string> {
  const bars: Array<[string, string, string]> = [
    ['财政拨款', f.appropriated, palette.accent],
    ['已分配', f.allocated, palette.procuring],
    ['已拨付', f.disbursed, palette.completed],
    ['可分配余额', f.available_to_allocate, palette.awaiting_funds],
  ];
  return renderSvg(
    {
      grid: { left: 8, right: 24, top: 36, bottom: 8, containLabel: true },
      xAxis: { type: 'category', data: bars.map((b) => b[0]) },
      yAxis: { type: 'value', name: '万元' },
      series: [
        {
          type: 'bar',
          barMaxWidth: 56,
          label: {
            show: true,
            position: 'top',
            textBorderColor: 'transparent',
            textBorderWidth: 0,
            formatter: (p: { value: unknown }) => Number(p.value).toLocaleString('zh-CN', { minimumFractionDigits: 2 }),
          },
          data: bars.map(([, v, color]) => ({ value: wan(v), itemStyle: { color } })),
        },
      ],
    },
    size,
  );
}

/** The units with the largest rewards allocated, largest first, in 万元. */
export function topUnitsChart(units: Array<{ name: string; allocated: string }>, size: ChartSize): Promise<string> {
  const rows = [...units].reverse();
  return renderSvg(
    {
      grid: { left: 8, right: 56, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: 'value', name: '万元' },
      yAxis: { type: 'category', data: rows.map((u) => u.name), axisLabel: { width: 150, overflow: 'truncate' } },
      series: [
        {
          type: 'bar',
          itemStyle: { color: palette.accent },
          label: {
            show: true,
            position: 'right',
            textBorderColor: 'transparent',
            textBorderWidth: 0,
            formatter: (p: { value: unknown }) => Number(p.value).toFixed(2),
          },
          data: rows.map((u) => wan(u.allocated)),
        },
      ],
    },
    size,
  );
}
