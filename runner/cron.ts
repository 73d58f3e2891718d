// Schedules as the worker reads them. pg-boss and the overdue check evaluate cron with
// cron-parser; a schedule is good when cron-parser parses it and finds a next time, and it
// has the shape retention_internal._cron_error accepts in SQL: five fields (minute hour
// day-of-month month day-of-week) or a macro. cron-parser also takes a sixth field
// (seconds first: '0 2 * * * *' is minute 2 of every hour), an empty string (every minute)
// and H; both refuse those. test/cron.test.ts holds SQL and this to one corpus.
import { CronExpressionParser } from 'cron-parser';

export const CRON_MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@hourly'] as const;

/** What is wrong with a schedule, or null when the worker can run it. */
export function cronError(expr: string): string | null {
  // As retention_internal._cron_error reads it: a macro exactly (cron-parser knows '@daily', not
  // '@daily '), else five fields of digits, names, * / , ? # L - separated by spaces.
  if ((CRON_MACROS as readonly string[]).includes(expr)) return null;
  if (expr.includes('@')) return `${expr} is not a macro: use ${CRON_MACROS.join(', ')}, exactly`;
  if (/[^0-9A-Za-z*/,?#L -]/.test(expr)) return 'only digits, names, * / , ? # L - and spaces may appear';
  const s = expr.replace(/^ +| +$/g, '');
  const fields = s === '' ? [] : s.split(/ +/);
  if (fields.length !== 5) return `${fields.length} field(s), not five (minute hour day-of-month month day-of-week)`;
  if (fields.some((f) => /[HhWw]/.test(f.replace(/wed/gi, '').replace(/thu/gi, '')))) return 'H and W are not supported';
  const problem = fields.map((f, i) => shapeError(f, i)).find((p) => p !== null);
  if (problem) return problem;
  try {
    CronExpressionParser.parse(s, { tz: 'UTC', strict: false, currentDate: new Date() }).next();
  } catch (err) {
    return (err as Error).message;
  }
  return null;
}

const NAMES = [/JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC/gi, /SUN|MON|TUE|WED|THU|FRI|SAT/gi];
const FIELD_NAMES = ['minute', 'hour', 'day of month', 'month', 'day of week'];

/** The item grammar retention_internal._cron_error accepts (cron-parser also takes ?/2, ? in the minute, 007, steps of 5 digits). */
function shapeError(field: string, i: number): string | null {
  if (i === 4 && /l/.test(field)) return `${FIELD_NAMES[i]}: ${field} is not a value, range or step`;
  const f = i === 3 ? field.replace(NAMES[0]!, '1') : i === 4 ? field.replace(NAMES[1]!, '1') : field;
  for (const item of f.split(',')) {
    if (i === 2 && item === 'L') continue;
    if (i === 4 && (/^[0-7]L$/i.test(item) || /^[0-7]#[1-5]$/.test(item))) continue;
    if ((i === 2 || i === 4) && item === '?') continue;
    if (!/^(\*|\d{1,2}|\d{1,2}-\d{1,2})(\/\d{1,4})?$/.test(item)) return `${FIELD_NAMES[i]}: ${field} is not a value, range or step`;
  }
  return null;
}

/** What is wrong with a time zone for the worker's schedules, or null (the rule of retention_internal._time_zone_ok). */
export function timeZoneError(zone: string): string | null {
  if (/^(posix|right)\//.test(zone) || ['Factory', 'localtime', 'posixrules'].includes(zone)) {
    return `${zone} is a copy or alias the worker cannot schedule in; use the IANA name`;
  }
  try {
    CronExpressionParser.parse('0 0 * * *', { tz: zone, strict: false, currentDate: new Date() }).next();
  } catch {
    return `${zone} is not a time zone the worker knows`;
  }
  return null;
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const MONTHS = ['', 'January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *', '@monthly': '0 0 1 * *', '@weekly': '0 0 * * 0', '@daily': '0 0 * * *', '@hourly': '0 * * * *',
};

/** A schedule in words for plan output ("daily at 02:00 UTC"); the expression itself where its shape is not a common one. */
export function describeSchedule(expr: string, zone = 'UTC'): string {
  const s = MACROS[expr.trim()] ?? expr.trim();
  const [min, hour, dom, mon, dow] = s.split(/\s+/);
  const num = (x: string | undefined) => x !== undefined && /^\d+$/.test(x);
  const at = num(min) && num(hour) ? `at ${hour!.padStart(2, '0')}:${min!.padStart(2, '0')} ${zone}` : null;
  if (num(min) && hour === '*' && dom === '*' && mon === '*' && dow === '*') return `hourly at minute ${min}`;
  const step = /^\*\/(\d+)$/.exec(min ?? '');
  if (step && hour === '*' && dom === '*' && mon === '*' && dow === '*') return `every ${step[1]} minutes`;
  if (at && dom === '*' && mon === '*' && dow === '*') return `daily ${at}`;
  if (at && dom === '*' && mon === '*' && num(dow)) return `on ${DAYS[Number(dow)]}s ${at}`;
  if (at && dom === '*' && mon === '*' && dow === '1-5') return `on weekdays ${at}`;
  if (at && num(dom) && mon === '*' && dow === '*') return `on day ${dom} of every month ${at}`;
  if (at && dom === 'L' && mon === '*' && dow === '*') return `on the last day of every month ${at}`;
  if (at && num(dom) && num(mon) && dow === '*') return `on ${MONTHS[Number(mon)]} ${dom} ${at}`;
  return `on cron "${expr.trim()}" (${zone})`;
}
