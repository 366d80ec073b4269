import type { Knex } from 'knex';

/*
 * Long work (bundles of thousands of statements, audit bundles) runs as a job that survives a restart
 * (DESIGN.md "Scale"). A job is a row: a worker claims it with FOR UPDATE SKIP LOCKED and keeps
 * heartbeat_at fresh while it works; a running job whose heartbeat went stale lost its worker and is
 * claimed again (and resumes from `done`), until attempts_max, then it fails with its error shown.
 * Nothing is deleted: a finished job's result expires (result_expires_at) and the row stays as the
 * record of who asked for what. The statements a bundle holds are records of their own (statements);
 * the bundle is only a list of them (items), so an expired bundle is built again, never lost.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE jobs (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      kind text NOT NULL CHECK (kind IN ('statement_bundle', 'audit_bundle')),
      fund_id bigint NOT NULL REFERENCES funds(id),
      requested_by bigint NOT NULL REFERENCES users(id),
      department_id bigint REFERENCES departments(id),
      request_ip text NOT NULL,
      status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed', 'expired')),
      done integer NOT NULL DEFAULT 0 CHECK (done >= 0),
      total integer CONSTRAINT jobs_done_within_total CHECK (total >= 0 AND done <= total),
      attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
      worker text,
      heartbeat_at timestamptz,
      error text,
      -- The units a statement bundle covers, fixed when it is asked for (so a resumed job covers the same ones).
      units bigint[] NOT NULL DEFAULT '{}',
      -- Statement ids of a bundle, in the order of its units (appended chunk by chunk as they are issued).
      items bigint[] NOT NULL DEFAULT '{}',
      -- An audit bundle's bytes (it records its own anchor when built, so it is kept, not rebuilt).
      result bytea,
      result_sha256 text,
      created_at timestamptz NOT NULL DEFAULT now(),
      started_at timestamptz,
      finished_at timestamptz,
      result_expires_at timestamptz,
      CONSTRAINT jobs_finished_when_ended CHECK (status NOT IN ('done', 'failed') OR finished_at IS NOT NULL),
      CONSTRAINT jobs_failure_explained CHECK (status <> 'failed' OR error IS NOT NULL),
      CONSTRAINT jobs_running_has_heartbeat CHECK (status <> 'running' OR heartbeat_at IS NOT NULL)
    );
    -- The claim reads the oldest waiting or abandoned job; the pages list a user's recent jobs.
    CREATE INDEX jobs_claimable ON jobs (id) WHERE status IN ('queued', 'running');
    CREATE INDEX jobs_by_requester ON jobs (requested_by, id DESC);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE jobs');
}
