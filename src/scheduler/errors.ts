import { DbtrailError } from '../lib/errors.js';

/**
 * A cron expression that cannot be parsed or can never fire. `reason` is the part after the colon, without the
 * expression, so that an API can put it under the field that carried the expression.
 */
export class CronExpressionError extends DbtrailError {
  readonly reason: string;

  constructor(expression: string, reason: string, field?: string) {
    super('CRON_EXPRESSION_INVALID', 'input', `Cannot parse cron expression "${expression}": ${reason}`, {
      fields: field === undefined ? { expression } : { expression, field },
    });
    this.reason = reason;
  }
}

/** A time zone name that the runtime's IANA database does not know. */
export class TimeZoneError extends DbtrailError {
  readonly reason: string;

  constructor(timeZone: string) {
    const reason = 'expected an IANA time zone name such as "UTC" or "Europe/Berlin"';
    super('TIME_ZONE_INVALID', 'input', `Cannot use time zone "${timeZone}": ${reason}`, {
      fields: { timeZone },
    });
    this.reason = reason;
  }
}

/** A valid expression found no run within the search horizon (e.g. 29 February on a Sunday, decades away). */
export class CronNoRunError extends DbtrailError {
  constructor(expression: string, timeZone: string, after: Date, years: number) {
    super(
      'CRON_NO_RUN',
      'input',
      `Cannot find the next run of cron expression "${expression}": no matching time within ${years} years after ${after.toISOString()} in ${timeZone}`,
      { fields: { expression, timeZone, after: after.toISOString() } },
    );
  }
}

/** A backup stored somewhere else than the store retention works on (another bucket, a remote agent's disk). */
export class RetentionLocationError extends DbtrailError {
  constructor(location: string, storeUrl: string) {
    super(
      'RETENTION_LOCATION_FOREIGN',
      'unsupported',
      `Cannot delete backup objects at ${location}: they are not in the configured object store ${storeUrl}`,
      { fields: { location, storeUrl } },
    );
  }
}
