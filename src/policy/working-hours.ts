/**
 * Working hours (issue 15): is an instant inside a role's window, in the window's IANA time zone?
 * Intl gives the local weekday and wall-clock time, so daylight saving is the zone's own: the window
 * is about the clock on the office wall, not a fixed UTC offset. Pure; the caller passes the instant.
 */
import type { Weekday, WorkingHours } from './types.ts';

export const WEEKDAYS: readonly Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
export const CLOCK_TIME_PATTERN = '^(?:[01][0-9]|2[0-3]):[0-5][0-9]$';

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Throws RangeError for a zone Intl does not know; semantics.ts asks this before a policy loads. */
export function isKnownTimeZone(timeZone: string): boolean {
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

export function localWeekdayAndMinute(at: Date, timeZone: string): { day: Weekday; minute: number } {
  const parts = formatterFor(timeZone).formatToParts(at);
  const part = (type: string): string => parts.find((candidate) => candidate.type === type)?.value ?? '';
  const day = part('weekday').slice(0, 3).toLowerCase() as Weekday;
  return { day, minute: Number(part('hour')) * 60 + Number(part('minute')) };
}

export function minuteOfDay(clock: string): number {
  const [hours, minutes] = clock.split(':');
  return Number(hours) * 60 + Number(minutes);
}

/** [start, end) on the listed days; an end before the start runs past midnight into the next day. */
export function isWithinWorkingHours(hours: WorkingHours, at: Date): boolean {
  const { day, minute } = localWeekdayAndMinute(at, hours.timeZone);
  const start = minuteOfDay(hours.start);
  const end = minuteOfDay(hours.end);
  if (start <= end) return hours.days.includes(day) && minute >= start && minute < end;
  if (minute >= start) return hours.days.includes(day);
  // After midnight: the window belongs to the day it started on.
  const previous = WEEKDAYS[(WEEKDAYS.indexOf(day) + WEEKDAYS.length - 1) % WEEKDAYS.length] as Weekday;
  return minute < end && hours.days.includes(previous);
}
