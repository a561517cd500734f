/** An organisation: owns servers, schedules, backups and API keys. Object paths start with its name. */
export interface Tenant {
  readonly id: string;
  readonly name: string;
  readonly createdAt: Date;
}

export interface TenantRepository {
  /** Throws DuplicateError when the name is taken. */
  create(name: string): Promise<Tenant>;
  /** The tenant with this name, created when missing; safe when several processes race to create it. */
  ensure(name: string): Promise<Tenant>;
  /** Throws NotFoundError. */
  get(id: string): Promise<Tenant>;
  findByName(name: string): Promise<Tenant | undefined>;
  /** By name. */
  list(): Promise<readonly Tenant[]>;
}
