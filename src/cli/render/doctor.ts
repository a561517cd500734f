import type { DoctorReport } from '../../source/doctor.js';

/** The human checklist for `dbtrail doctor`. */
export function renderDoctor(report: DoctorReport, color: boolean): string {
  const paint = (code: string, s: string): string => (color ? `\u001b[${code}m${s}\u001b[0m` : s);
  const lines = [`${report.server.flavor === 'mariadb' ? 'MariaDB' : 'MySQL'} ${report.server.version}`, ''];
  const width = Math.max(...report.checks.map((c) => c.name.length));
  for (const c of report.checks) {
    const mark = c.ok
      ? paint('32', '[ok]  ')
      : c.severity === 'error'
        ? paint('31', '[FAIL]')
        : paint('33', '[warn]');
    const value = c.value === null ? '' : ` (${c.value})`;
    lines.push(`${mark} ${c.name.padEnd(width)}  ${c.message}${c.ok ? '' : value}`);
  }
  const errors = report.checks.filter((c) => !c.ok && c.severity === 'error').length;
  const warnings = report.checks.filter((c) => !c.ok && c.severity === 'warning').length;
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  lines.push('');
  lines.push(
    report.ok
      ? `Ready for dbtrail${warnings ? ` (${plural(warnings, 'warning')})` : ''}`
      : `Not ready: ${plural(errors, 'check')} failed${warnings ? `, ${plural(warnings, 'warning')}` : ''}`,
  );
  return `${lines.join('\n')}\n`;
}
