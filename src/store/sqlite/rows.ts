import { InvalidValueError } from '../errors.js';

/**
 * Times are stored as UTC ISO-8601 text with milliseconds: 24 characters for years 0000-9999, so text order is
 * time order. A Date outside those years would break the ordering and is refused.
 */
export function toDbTime(date: Date): string {
  const text = date.toISOString();
  if (text.length !== 24) {
    throw new InvalidValueError(`Cannot store time ${text}: expected a year between 0000 and 9999`);
  }
  return text;
}

export function fromDbTime(text: string): Date {
  return new Date(text);
}

export function fromDbTimeOrNull(text: string | null): Date | null {
  return text === null ? null : new Date(text);
}
