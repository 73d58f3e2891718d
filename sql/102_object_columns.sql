-- Files deleted with their rows. A column that holds a reference to an object (a storage
-- key, or a URL with a fixed prefix) is registered with the storage target it lives in
-- (set_object_column). Two row triggers on its table (retention_objects_<id>_d on delete,
-- _u on an update of the column; cloned to every partition, enabled ALWAYS) put the
-- reference into retention.object_deletions in the transaction that removes the row, when
-- the removal is a batch's (a policy's or an erasure step's, cascades included: the batch
-- marks its transaction in retention.batch_marks with the tables it reaches): the
-- application's own deletes leave its objects alone. The
-- worker claims the entries (claim_object_deletions, which settles as 'kept' every entry
-- a remaining row still references), deletes the objects and reports back
-- (object_deletion_done: retried with backoff, dead and notified after the attempts).
-- Every batch checks that the triggers of the tables it reaches are in place (RT038).

-- The key an object column's value names. Without a url_prefix: the value itself. With a
-- prefix that is a URL (scheme://host/path/): the value is read as a URL — scheme http and
-- https alike, host in any case, without a trailing dot or the default port (:80, :443),
-- the path percent-decoded and its dot segments resolved, query (?…) and fragment (#…)
-- dropped — and must lie under the prefix's path; the key is the rest of the path. So
-- https://CDN.example.com:443/rec/./my%20file.webm?v=2 names 'my file.webm' under
-- https://cdn.example.com/rec/. With any other prefix (a key prefix, e.g. uploads/): the
-- value must start with it, and the key is the rest as it is. error is set (and key is
-- the raw value) when the value names no object in the target: not under the prefix, a
-- malformed URL or percent-encoding, a key that is empty, longer than 1024 characters,
-- holds control characters, starts with '/', or has an empty, '.' or '..' segment.
create or replace function retention_internal._object_key(p_value text, p_prefix text, out key text, out error text)
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_p     text[];
  v_v     text[];
  v_ppath text;
  v_path  text;
begin
  key := p_value;
  if p_prefix is not null and strpos(p_prefix, '://') = 0 then
    if not starts_with(p_value collate "C", p_prefix collate "C") then
      error := format('the value does not start with the column''s prefix %L', p_prefix);
      return;
    end if;
    key := substr(p_value, length(p_prefix) + 1);
  elsif p_prefix is not null then
    v_p := regexp_match(p_prefix, '^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#@]+)(/[^?#]*)$');
    v_v := regexp_match(p_value, '^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)([^?#]*)');
    if v_p is null or v_v is null then
      error := 'the value is not a URL under the column''s url_prefix';
      return;
    end if;
    if retention_internal._url_origin(v_v[1], v_v[2]) is distinct from retention_internal._url_origin(v_p[1], v_p[2]) then
      error := format('the value does not start with the column''s url_prefix %L', p_prefix);
      return;
    end if;
    v_ppath := retention_internal._url_path(v_p[3]);
    v_path := retention_internal._url_path(coalesce(nullif(v_v[3], ''), '/'));
    if v_path is null then
      error := 'the value''s path has a malformed percent-encoding, or is not UTF-8, or climbs above the root';
      return;
    end if;
    if not starts_with(v_path collate "C", v_ppath collate "C") then
      error := format('the value does not lie under the column''s url_prefix %L', p_prefix);
      return;
    end if;
    key := substr(v_path, length(v_ppath) + 1);
  end if;
  if length(key) = 0 or length(key) > 1024 then
    error := 'the key is empty or longer than 1024 characters';
  elsif key ~ '[[:cntrl:]]' then
    error := 'the key holds control characters';
  elsif key ~ '^/' or key ~ '(^|/)\.{0,2}(/|$)' then
    error := 'the key starts with /, or has an empty, . or .. segment (it could name an object outside the target)';
  end if;
  if error is not null then
    key := p_value;
  end if;
end
$$;
comment on function retention_internal._object_key(text, text) is
  'Internal. The object key an object column''s value names (url_prefix removed; a URL read as one: scheme http/https, host case, default port, trailing dot, percent-encoding, dot segments, query and fragment normalised), or the reason it names none.';

-- A URL's scheme and host as compared: http and https alike, the host in lower case,
-- without a trailing dot or the scheme's default port. NULL for userinfo (user@host).
create or replace function retention_internal._url_origin(p_scheme text, p_host text)
returns text
language sql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  select case when strpos(p_host, '@') > 0 then null
              else (case when lower(p_scheme) in ('http', 'https') then 'http' else lower(p_scheme) end)
                   || '://' || regexp_replace(regexp_replace(lower(p_host), ':(80|443)$', ''), '\.(?=(:|$))', '') end
$$;
comment on function retention_internal._url_origin(text, text) is
  'Internal. A URL''s scheme and host as object columns compare them (http = https, lower case, no default port or trailing dot).';

-- A URL path percent-decoded, with its dot segments resolved (RFC 3986 5.2.4); NULL when
-- the encoding is malformed or not UTF-8, or a '..' climbs above the root.
create or replace function retention_internal._url_path(p_path text)
returns text
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_bytes bytea := '';
  v_tok   text;
  v_text  text := p_path;
  v_out   text[] := '{}';
  v_seg   text;
  v_segs  text[];
  v_i     integer;
begin
  if strpos(p_path, '%') > 0 then
    if p_path ~ '%([^0-9A-Fa-f]|.[^0-9A-Fa-f]|.?$)' then
      return null;
    end if;
    for v_tok in select m[1] from regexp_matches(p_path, '((?:%[0-9A-Fa-f]{2})+|[^%]+)', 'g') m loop
      v_bytes := v_bytes || case when left(v_tok, 1) = '%' then decode(replace(v_tok, '%', ''), 'hex')
                                 else convert_to(v_tok, 'UTF8') end;
    end loop;
    begin
      v_text := convert_from(v_bytes, 'UTF8');
    exception when character_not_in_repertoire or untranslatable_character then
      return null;
    end;
  end if;
  v_segs := string_to_array(v_text, '/');
  for v_i in 1 .. coalesce(cardinality(v_segs), 0) loop
    v_seg := v_segs[v_i];
    if v_seg = '.' then
      if v_i = cardinality(v_segs) then v_out := v_out || ''::text; end if;
      continue;
    elsif v_seg = '..' then
      if cardinality(v_out) <= 1 then
        return null;   -- above the root
      end if;
      v_out := v_out[1:cardinality(v_out) - 1];
      if v_i = cardinality(v_segs) then v_out := v_out || ''::text; end if;
      continue;
    end if;
    v_out := v_out || v_seg;
  end loop;
  return array_to_string(v_out, '/');
end
$$;
comment on function retention_internal._url_path(text) is
  'Internal. A URL path percent-decoded with its dot segments resolved, or NULL (malformed, not UTF-8, above the root).';

-- The object key a value names (_object_key), or NULL when it names none. Public and
-- immutable so that a table with a url_prefix column can index it: the worker's look-up
-- of remaining references then uses the index, e.g.
--   CREATE INDEX ON app.avatars (retention.object_key_of(url, 'https://cdn.example.com/avatars/'));
-- What stays of an object's key once its deletion settles (object_deletions.key_sha256):
-- 'k' and sha256 of the key under the secret key only the owner reads
-- (retention_internal.row_hash_key): a key may name a person ('avatars/alice@example.com.png'),
-- and an unkeyed hash gave it back to whoever tried the likely keys (round atk70). The
-- owner confirms that a given key was deleted by hashing it the same way.
create or replace function retention_internal._object_key_sha256(p_key text)
returns text
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select 'k' || pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(x.k || p_key, 'UTF8')), 'hex')
    from retention_internal.row_hash_key x
$$;
comment on function retention_internal._object_key_sha256(text) is
  'Internal. An object key as object_deletions keeps it once settled: ''k'' and sha256 of the secret row_hash_key and the key (hex).';
revoke all on function retention_internal._object_key_sha256(text) from public;

create or replace function retention.object_key_of(p_value text, p_prefix text)
returns text
language sql
immutable
parallel safe
-- Every role may call it (and index it), but not the internal function it wraps.
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$ select k.key from retention_internal._object_key(p_value, p_prefix) k where k.error is null $$;
comment on function retention.object_key_of(text, text) is
  'The object key an object column''s value names with that url_prefix (NULL prefix: the value itself), or NULL when it names none; index it to speed up the worker''s look-ups of url columns.';

-- The trigger behind every object column (argument: its column_id). It queues only what a
-- batch removes: its transaction has a row in retention.batch_marks (written by _batch as
-- the owner, never committed), and the table is one that batch deletes from (or, for the
-- update trigger, updates). Any login can set retention.run_id; none can write that row,
-- and code the batch sets off elsewhere (another table's trigger) is not the batch.
create or replace function retention.object_column_trigger()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_mark retention.batch_marks;
  v_col  retention.object_columns;
  v_val  text;
  v_key  record;
  v_id   bigint;
  v_held text;
  v_is_held boolean;
begin
  select * into v_mark from retention.batch_marks m where m.xid = pg_current_xact_id();
  if not found or not (tg_relid = any (case when tg_op = 'DELETE' then v_mark.del_rels else v_mark.upd_rels end)) then
    return null;
  end if;
  select * into v_col from retention.object_columns c where c.column_id = tg_argv[0]::bigint;
  -- Only on the registered table or a partition of it (set_object_column's triggers).
  if not found or not (v_col.rel = tg_relid or v_col.rel = pg_catalog.pg_partition_root(tg_relid)) then
    return null;
  end if;
  -- A held row keeps its objects, also when code other than the batch (a trigger of the
  -- application firing inside it) removes it.
  v_held := v_mark.held ->> tg_relid::text;
  if v_held is not null then
    execute format('select %s from (select ($1).*) t', v_held) into v_is_held using old;
    if v_is_held then
      return null;
    end if;
  end if;
  -- The trigger's WHEN clause saw the column non-null; NULL here means it was renamed
  -- (the batch checks names first: _check_object_triggers).
  v_val := to_jsonb(old) ->> v_col.column_name;
  if v_val is null then
    raise exception 'object column % of % is not there any more (renamed?)', v_col.column_name, v_col.rel
      using errcode = 'RT038',
            hint = format('Register the column under its new name: SELECT retention.set_object_column(%L, ''<column>'', %L); then drop the old one.',
                          retention.qualified_name(v_col.rel), v_col.target);
  end if;
  if tg_op = 'UPDATE' and (to_jsonb(new) ->> v_col.column_name) is not distinct from v_val then
    return null;
  end if;
  select * into v_key from retention_internal._object_key(v_val, v_col.url_prefix);
  insert into retention.object_deletions (column_id, target, object_key, key_sha256, rel_name, column_name, run_id,
                                          status, last_error)
  values (v_col.column_id, v_col.target, v_key.key, retention_internal._object_key_sha256(v_key.key),
          retention.qualified_name(v_col.rel), v_col.column_name, v_mark.run_id,
          case when v_key.error is null then 'pending' else 'dead' end, v_key.error)
  returning deletion_id into v_id;
  if v_key.error is not null then
    perform retention_internal._notify_dead_reference(v_id);
  end if;
  return null;
end
$$;
comment on function retention.object_column_trigger() is
  'Trigger of object columns (set_object_column puts it on their tables; it cannot be called otherwise): puts the deleted (or scrubbed) row''s object reference into object_deletions when the transaction''s batch (batch_marks) removes it from that table, unless a legal hold covers the row.';

-- Notifies an object deletion that is dead from the start (its reference names no object).
create or replace function retention_internal._notify_dead_reference(p_id bigint)
returns void
language sql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
  insert into retention.notifications (kind, dedupe_key, payload)
  select 'object_deletion_failed', 'object_deletion_failed:' || d.deletion_id,
         jsonb_build_object('kind', 'object_deletion_failed', 'deletion_id', d.deletion_id, 'target', d.target,
                            'table', d.rel_name, 'column', d.column_name, 'run_id', d.run_id, 'error', d.last_error)
    from retention.object_deletions d where d.deletion_id = p_id
  on conflict do nothing
$$;
comment on function retention_internal._notify_dead_reference(bigint) is
  'Internal. Notifies (object_deletion_failed) an object deletion whose reference names no object.';

-- Registers (or changes) an object column: p_column of p_table holds references to
-- objects in the storage target named p_target (the worker's PG_RETENTION_OBJECT_TARGETS
-- maps the name to a directory or an S3 prefix); p_url_prefix, when given, is what each
-- value starts with before the object key. Puts the triggers on the table. Audit-logged.
create or replace function retention.set_object_column(
  p_table      text,
  p_column     text,
  p_target     text,
  p_url_prefix text default null,
  p_reason     text default null
)
returns retention.object_columns
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_rel  regclass;
  v_kind "char";
  v_part boolean;
  v_type text;
  v_row  retention.object_columns;
  v_root regclass;
  v_attnum smallint;
begin
  -- A decision or a record of the login's: not made by another role's code in its session (round atk148 F3).
  perform retention_internal._check_called_directly('register an object column');
  perform retention_internal._routine_write();
  -- Kept in the audit log for good (round atk83 F4).
  perform retention_internal._check_note(p_reason, 2000, 'an object column''s reason', 'RT020');
  v_rel := retention_internal._resolve_table(p_table, 'Give the table whose column holds the object references, schema-qualified.');
  perform retention_internal._check_can_read(v_rel);
  select c.relkind, c.relispartition into v_kind, v_part from pg_catalog.pg_class c where c.oid = v_rel;
  if v_kind not in ('r', 'p') then
    raise exception '% is not a table', v_rel
      using errcode = 'RT020', hint = 'Object columns belong to ordinary or partitioned tables (not views, foreign tables or sequences).';
  end if;
  if v_part then
    v_root := pg_catalog.pg_partition_root(v_rel);
    raise exception '% is a partition of %', v_rel, v_root
      using errcode = 'RT020', hint = format('Register the column on the partitioned table: SELECT retention.set_object_column(%L, %L, %L);',
                                             retention.qualified_name(v_root), p_column, p_target);
  end if;
  -- The worker would count a table of its own as holding references (a retention table
  -- naming every key it queues would keep them all).
  if (select n.nspname from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace where c.oid = v_rel)
       in ('retention', 'retention_internal', 'pg_catalog', 'information_schema', 'pg_toast')
     or (select n.nspname from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace where c.oid = v_rel) ~ '^pg_(toast_)?temp_' then
    raise exception '% is a table of pg-retention or of the system', v_rel
      using errcode = 'RT020', hint = 'Object columns are the application''s: register a table of your own schemas.';
  end if;
  -- Inheritance (not partitioning): row triggers are not inherited, and a child's rows
  -- would go without their objects.
  if exists (select from pg_catalog.pg_inherits i join pg_catalog.pg_class c on c.oid = i.inhrelid
              where (i.inhparent = v_rel or i.inhrelid = v_rel) and not c.relispartition) then
    raise exception '% takes part in table inheritance', v_rel
      using errcode = 'RT020', hint = 'Object columns cover ordinary and partitioned tables; an inherited table''s rows would go without their objects. Partition the table instead.';
  end if;
  select format_type(retention_internal._domain_base(a.atttypid), null), a.attnum into v_type, v_attnum
    from pg_catalog.pg_attribute a
   where a.attrelid = v_rel and a.attname = p_column and a.attnum > 0 and not a.attisdropped;
  if v_type is null then
    raise exception 'column % does not exist in %', coalesce(quote_ident(p_column), 'NULL'), v_rel
      using errcode = 'RT002', hint = 'Give the column that holds the object key or URL.';
  end if;
  -- Keys are compared byte for byte: a column whose collation says 'X.pdf' = 'x.pdf'
  -- could keep neither object apart.
  if exists (select from pg_catalog.pg_attribute a join pg_catalog.pg_collation c on c.oid = a.attcollation
              where a.attrelid = v_rel and a.attname = p_column and not c.collisdeterministic) then
    raise exception 'column % of % has a nondeterministic collation', p_column, v_rel
      using errcode = 'RT020', hint = 'Object keys are compared byte for byte; give the column a deterministic collation (e.g. "C").';
  end if;
  if v_type not in ('text', 'character varying') then
    raise exception 'column % of % is %, not text', p_column, v_rel, v_type
      using errcode = 'RT020', hint = 'An object column holds a key or URL as text or varchar.';
  end if;
  if p_target is null or p_target !~ '^[a-z][a-z0-9_-]{0,62}$' then
    raise exception 'invalid storage target name %', coalesce(quote_literal(p_target), 'NULL')
      using errcode = 'RT020',
            hint = 'A name (lower-case letters, digits, _ and -) that PG_RETENTION_OBJECT_TARGETS maps to a directory or s3://bucket/prefix, e.g. recordings; URLs and credentials stay out of the database.';
  end if;
  if p_url_prefix is not null
     and (length(p_url_prefix) not between 1 and 500 or p_url_prefix ~ '[[:cntrl:]]' or right(p_url_prefix, 1) <> '/'
          or (strpos(p_url_prefix, '://') > 0 and p_url_prefix !~ '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#@]+/[^?#]*$')
          or (strpos(p_url_prefix, '://') > 0 and retention_internal._url_path(substring(p_url_prefix from '^[^:]+://[^/]+(/.*)$')) is null)) then
    raise exception 'invalid url prefix %', quote_literal(left(p_url_prefix, 60))
      using errcode = 'RT020', hint = 'What every value starts with before the object key, ending in /: a URL with its host and path (https://cdn.example.com/recordings/) or a key prefix (uploads/); 1 to 500 characters.';
  end if;
  -- The triggers are created as the retention owner; the worker reads the table as the
  -- owner to see whether a remaining row still references an object.
  if not pg_catalog.has_table_privilege(current_user, v_rel, 'TRIGGER') then
    raise exception 'permission denied for table %: the retention owner % cannot put a trigger on it', v_rel, current_user
      using errcode = '42501', hint = format('A DBA grants it: GRANT TRIGGER ON %s TO %I;', v_rel, current_user);
  end if;
  if not pg_catalog.has_table_privilege(current_user, v_rel, 'SELECT') then
    raise exception 'permission denied for table %: the retention owner % cannot read it', v_rel, current_user
      using errcode = '42501', hint = format('A DBA grants it: GRANT SELECT ON %s TO %I;', v_rel, current_user);
  end if;
  perform retention_internal._check_owner_sees_all(v_rel);

  insert into retention.object_columns as o (rel, column_name, attnum, target, url_prefix, reason, updated_by)
  values (v_rel, p_column, v_attnum, p_target, p_url_prefix, nullif(btrim(p_reason), ''), session_user)
  on conflict (rel, column_name) do update
     set attnum = excluded.attnum, target = excluded.target, url_prefix = excluded.url_prefix, reason = excluded.reason,
         updated_at = now(), updated_by = excluded.updated_by
  returning o.* into v_row;
  execute format('drop trigger if exists %I on %s', 'retention_objects_' || v_row.column_id || '_d', v_rel);
  execute format('drop trigger if exists %I on %s', 'retention_objects_' || v_row.column_id || '_u', v_rel);
  execute format('create trigger %I after delete on %s for each row when (old.%I is not null)
                  execute function retention.object_column_trigger(%L)',
                 'retention_objects_' || v_row.column_id || '_d', v_rel, p_column, v_row.column_id);
  execute format('create trigger %I after update of %I on %s for each row
                  when (old.%I is not null and old.%I is distinct from new.%I)
                  execute function retention.object_column_trigger(%L)',
                 'retention_objects_' || v_row.column_id || '_u', p_column, v_rel, p_column, p_column, p_column, v_row.column_id);
  -- ALWAYS: they fire under session_replication_role = replica too.
  execute format('alter table %s enable always trigger %I, enable always trigger %I', v_rel,
                 'retention_objects_' || v_row.column_id || '_d', 'retention_objects_' || v_row.column_id || '_u');
  if not exists (select from pg_catalog.pg_index i
                  where i.indrelid = v_rel and i.indkey[0] = (select a.attnum from pg_catalog.pg_attribute a
                                                               where a.attrelid = v_rel and a.attname = p_column)) then
    raise notice 'no index on %.%: the worker looks up each object it deletes there (and in the target''s other object columns) to keep objects a remaining row still references', v_rel, quote_ident(p_column)
      using hint = format('CREATE INDEX CONCURRENTLY ON %s (%I);', v_rel, p_column);
  end if;
  perform retention_internal._append_audit('object_column.set', 'table', retention.qualified_name(v_rel),
    jsonb_build_object('column', p_column, 'target', p_target, 'url_prefix', p_url_prefix, 'reason', v_row.reason));
  return v_row;
end
$$;
comment on function retention.set_object_column(text, text, text, text, text) is
  'Registers a column holding references (keys, or URLs starting with p_url_prefix) to objects in the named storage target: rows pg-retention deletes or scrubs take their objects with them (object_deletions; the worker deletes them). Audit-logged.';

-- Unregisters an object column and drops its triggers. Entries already queued stay.
create or replace function retention.drop_object_column(p_table text, p_column text)
returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_rel regclass;
  v_row retention.object_columns;
begin
  -- A decision or a record of the login's: not made by another role's code in its session (round atk148 F3).
  perform retention_internal._check_called_directly('drop an object column');
  perform retention_internal._routine_write();
  v_rel := retention_internal._resolve_table(p_table, 'Give the table as set_object_column was given it (see retention.object_columns).');
  perform retention_internal._check_can_read(v_rel);
  delete from retention.object_columns c where c.rel = v_rel and c.column_name = p_column returning c.* into v_row;
  if not found then
    raise exception 'no object column % on %', coalesce(quote_ident(p_column), 'NULL'), v_rel
      using errcode = 'RT002', hint = 'SELECT rel, column_name FROM retention.object_columns lists them.';
  end if;
  execute format('drop trigger if exists %I on %s', 'retention_objects_' || v_row.column_id || '_d', v_rel);
  execute format('drop trigger if exists %I on %s', 'retention_objects_' || v_row.column_id || '_u', v_rel);
  perform retention_internal._append_audit('object_column.dropped', 'table', retention.qualified_name(v_rel),
    jsonb_build_object('column', p_column, 'target', v_row.target));
end
$$;
comment on function retention.drop_object_column(text, text) is
  'Unregisters an object column and drops its triggers; references already queued are still deleted. Audit-logged.';

-- RT023 when row-level security on the table applies to the retention owner (the
-- current user of a SECURITY DEFINER routine): it could not see every row that still
-- references an object.
create or replace function retention_internal._check_owner_sees_all(p_rel regclass)
returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
begin
  if exists (select from pg_catalog.pg_class c join pg_catalog.pg_roles s on s.rolname = current_user
              where c.oid = p_rel and c.relrowsecurity and not s.rolsuper and not s.rolbypassrls
                and (c.relforcerowsecurity or not pg_catalog.pg_has_role(current_user, c.relowner, 'MEMBER'))) then
    raise exception 'row-level security on % applies to the retention owner %: it could not see every row that references an object', p_rel, current_user
      using errcode = 'RT023', hint = 'Let the owner bypass row-level security (ALTER ROLE ... BYPASSRLS), or disable it on that table.';
  end if;
end
$$;
comment on function retention_internal._check_owner_sees_all(regclass) is
  'Internal. RT023 when row-level security on the table applies to the retention owner.';

-- Every batch: the object columns of the tables it reaches (p_rels: the reach, partitions
-- included) must be as registered — the column still under its name (not renamed, not
-- swapped with another), both triggers on the table and every partition, enabled ALWAYS,
-- the update trigger on that column — and no table reached may inherit from a table with
-- an object column (its rows would go without their objects); else RT038 and nothing is
-- removed.
create or replace function retention_internal._check_object_triggers(p_rels oid[])
returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_bad text;
begin
  select format('%s (object column %I of %s): %s', l.relid::regclass, o.column_name, o.rel,
                case when (select a.attname from pg_catalog.pg_attribute a
                            where a.attrelid = o.rel and a.attnum = o.attnum and not a.attisdropped) is distinct from o.column_name
                       or not exists (select from pg_catalog.pg_attribute a
                                       where a.attrelid = l.relid and a.attname = o.column_name and a.attnum > 0 and not a.attisdropped)
                     then 'the column was renamed or dropped'
                     else 'trigger ' || x.name || ' is missing, not enabled ALWAYS or not on the column' end)
    into v_bad
    from retention.object_columns o
   cross join lateral unnest(retention_internal._family(o.rel)) l(relid)
   cross join lateral (values ('retention_objects_' || o.column_id || '_d'), ('retention_objects_' || o.column_id || '_u')) x(name)
   where l.relid = any (p_rels)
     and ((select a.attname from pg_catalog.pg_attribute a
            where a.attrelid = o.rel and a.attnum = o.attnum and not a.attisdropped) is distinct from o.column_name
          or not exists (select from pg_catalog.pg_attribute a
                          where a.attrelid = l.relid and a.attname = o.column_name and a.attnum > 0 and not a.attisdropped)
          or not exists (select from pg_catalog.pg_trigger g
                          where g.tgrelid = l.relid and g.tgname = x.name and g.tgenabled = 'A'
                            and g.tgfoid = 'retention.object_column_trigger()'::regprocedure
                            and (x.name like '%\_d'
                                 or (select a.attname from pg_catalog.pg_attribute a
                                      where a.attrelid = l.relid and a.attnum = g.tgattr[0]) = o.column_name)))
   limit 1;
  if v_bad is null then
    select format('%s inherits from %s, which has the object column %I: its rows would go without their objects',
                  i.inhrelid::regclass, i.inhparent::regclass, o.column_name)
      into v_bad
      from pg_catalog.pg_inherits i
      join pg_catalog.pg_class c on c.oid = i.inhrelid and not c.relispartition
      join retention.object_columns o on o.rel = i.inhparent
     where i.inhrelid = any (p_rels)
     limit 1;
  end if;
  if v_bad is not null then
    raise exception 'objects of rows removed from % would be left behind', v_bad
      using errcode = 'RT038',
            hint = 'Register the column again under its name (SELECT retention.set_object_column(...) puts its triggers back), or drop it (retention.drop_object_column); then run again.';
  end if;
end
$$;
comment on function retention_internal._check_object_triggers(oid[]) is
  'Internal. RT038 when an object column of a table a batch reaches was renamed or dropped or lost its triggers (or they are not enabled ALWAYS), or a table reached inherits from one with an object column.';

-- A batch of the policy (run p_run_id) about to run: when a table it reaches has an object
-- column, the columns are checked (_check_object_triggers) and the transaction is marked
-- as this batch's in retention.batch_marks, with the tables it deletes from and updates
-- (_lock_reach's reach: the policy's table, its revoke tables and the foreign keys'
-- actions); true then (_batch removes the mark before it commits).
create or replace function retention_internal._mark_batch(p retention.policies, p_run_id bigint)
returns boolean
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_del  oid[];
  v_upd  oid[];
  v_held jsonb;
begin
  if not exists (select from retention.object_columns) then
    return false;
  end if;
  select coalesce(array_agg(distinct r.rel) filter (where not r.upd), '{}'),
         coalesce(array_agg(distinct r.rel) filter (where r.upd), '{}')
    into v_del, v_upd
    from (select p.target as t, p.action in ('soft_delete', 'scrub') as upd
          union all select x, false from unnest(coalesce(p.revoke_tables, '{}')) x) s
   cross join lateral retention_internal._reach(s.t, s.upd) r;
  perform retention_internal._check_object_triggers(v_del || v_upd);
  -- The tables reached that have an object column (theirs or their partitioned table's),
  -- each with its hold rule; none: nothing to mark.
  select jsonb_object_agg(l.relid::text, retention_internal._held_sql(l.relid::regclass, 't', p.name, false))
    into v_held
    from (select distinct x.relid
            from retention.object_columns o
           cross join lateral unnest(retention_internal._family(o.rel)) x(relid)
           where x.relid = any (v_del || v_upd)) l;
  if v_held is null then
    return false;
  end if;
  insert into retention.batch_marks (xid, run_id, del_rels, upd_rels, held)
  values (pg_current_xact_id(), p_run_id, v_del, v_upd, v_held)
  on conflict (xid) do update set run_id = excluded.run_id, del_rels = excluded.del_rels, upd_rels = excluded.upd_rels,
                                  held = excluded.held;
  return true;
end
$$;
comment on function retention_internal._mark_batch(retention.policies, bigint) is
  'Internal. Checks the object columns a batch of the policy reaches and marks the transaction as the batch''s (batch_marks) for their triggers; false when it reaches none.';

-- A partition drop_partitions is about to drop (detached from p_parent): the references
-- of its rows in p_parent's object columns are queued, as the triggers would queue them.
create or replace function retention_internal._queue_partition_objects(p_partition regclass, p_parent regclass, p_run_id bigint)
returns bigint
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  c     retention.object_columns;
  v_n   bigint;
  v_all bigint := 0;
begin
  for c in select * from retention.object_columns o
            where o.rel = coalesce(pg_catalog.pg_partition_root(p_parent), p_parent) order by o.column_id loop
    perform retention_internal._check_object_read(p_partition, c.column_name);
    execute format(
      'with q as (insert into retention.object_deletions (column_id, target, object_key, key_sha256, rel_name, column_name,
                                                         run_id, status, last_error)
                  select $1, $2, k.key, retention_internal._object_key_sha256(k.key), $3, $4, $5,
                         case when k.error is null then ''pending'' else ''dead'' end, k.error
                    from %s t cross join lateral retention_internal._object_key(t.%I::text, $6) k
                   where t.%I is not null
                  returning 1)
       select count(*) from q', p_partition, c.column_name, c.column_name)
      into v_n using c.column_id, c.target, retention.qualified_name(c.rel), c.column_name, p_run_id, c.url_prefix;
    v_all := v_all + v_n;
  end loop;
  perform retention_internal._notify_dead_reference(d.deletion_id)
     from retention.object_deletions d
    where d.run_id = p_run_id and d.status = 'dead' and d.attempts = 0
      and not exists (select from retention.notifications n where n.dedupe_key = 'object_deletion_failed:' || d.deletion_id);
  return v_all;
end
$$;
comment on function retention_internal._queue_partition_objects(regclass, regclass, bigint) is
  'Internal. Queues the object references of a detached partition''s rows before drop_partitions drops it (a drop fires no trigger).';

-- Before the owner reads an object column of p_rel (the claim's look-up, a dropped
-- partition's queue): what set_object_column checked then must still hold, or the read
-- would run another role's code as the owner (round atk89): still an ordinary or
-- partitioned table (a table turned into a view runs its query), with no inheritance
-- child (read or not, its rows would be missed), the column still text or varchar (a cast
-- of another type to text is its owner's function), and no code of another role the
-- planner runs (_check_planner_code: partial indexes, CHECK constraints, statistics).
create or replace function retention_internal._check_object_read(p_rel regclass, p_column name)
returns void
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_kind "char";
  v_type text;
  v_child regclass;
begin
  select c.relkind into v_kind from pg_catalog.pg_class c where c.oid = p_rel;
  if v_kind is distinct from 'r' and v_kind is distinct from 'p' then
    raise exception 'cannot read object column % of %: it is no longer a table (relkind %)', p_column, p_rel, v_kind
      using errcode = 'RT013',
            hint = 'pg-retention reads object columns as its owner, and a view''s query would run so: make it a table again, or unregister the column (retention.drop_object_column).';
  end if;
  with recursive below(rel, depth) as (
    select p_rel::oid, 0
    union
    select i.inhrelid, b.depth + 1 from below b join pg_catalog.pg_inherits i on i.inhparent = b.rel where b.depth < 32)
  select c.oid::regclass into v_child
    from below b join pg_catalog.pg_class c on c.oid = b.rel
   where b.depth > 0 and (not c.relispartition or c.relkind not in ('r', 'p'))
   order by b.depth, c.oid limit 1;
  if v_child is not null then
    raise exception 'cannot read object column % of %: % below it is an inheritance child or not a table', p_column, p_rel, v_child
      using errcode = 'RT020',
            hint = 'Object columns cover ordinary and partitioned tables: its rows would go without their objects. Remove the child (ALTER TABLE ... NO INHERIT), or unregister the column (retention.drop_object_column).';
  end if;
  select format_type(retention_internal._domain_base(a.atttypid), null) into v_type
    from pg_catalog.pg_attribute a
   where a.attrelid = p_rel and a.attname = p_column and a.attnum > 0 and not a.attisdropped;
  if v_type is not null and v_type not in ('text', 'character varying') then
    raise exception 'cannot read object column % of %: it is % now, not text', p_column, p_rel, v_type
      using errcode = 'RT020',
            hint = 'An object column holds a key or URL as text or varchar: change it back, or unregister it (retention.drop_object_column).';
  end if;
  perform retention_internal._check_planner_code(p_rel);
end
$$;
comment on function retention_internal._check_object_read(regclass, name) is
  'Internal. Refuses (RT013, RT020, RT025) to read an object column of a table that is no longer an ordinary or partitioned table, has an inheritance child, whose column is no longer text or varchar, or whose planning would run another role''s code.';

-- Which of the keys a remaining row of one of the target's object columns still
-- references (each column compared through _object_key, so another spelling of the same
-- URL counts). A column is read under its current name (found by its number: a renamed
-- column still counts); a dropped column holds nothing; a registration whose table was
-- dropped is removed (audit-logged). Key columns are looked up through their index; url
-- columns scan the table unless it has an index on retention.object_key_of(column, prefix).
create or replace function retention_internal._objects_referenced(p_target text, p_keys text[])
returns setof text
language plpgsql
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  c      record;
begin
  for c in select o.*, a.attname as current_name, k.oid is not null as rel_exists
             from retention.object_columns o
             left join pg_catalog.pg_class k on k.oid = o.rel
             left join pg_catalog.pg_attribute a on a.attrelid = o.rel and a.attnum = o.attnum and not a.attisdropped
            where o.target = p_target order by o.column_id loop
    if not c.rel_exists then
      delete from retention.object_columns o where o.column_id = c.column_id;
      perform retention_internal._append_audit('object_column.dropped', 'table', c.rel::oid::text,
        jsonb_build_object('column', c.column_name, 'target', c.target, 'why', 'the table was dropped'));
      continue;
    end if;
    continue when c.current_name is null;
    perform retention_internal._check_object_read(c.rel, c.current_name);
    -- Read with its partitions (their rows reference objects too), but never through a
    -- foreign table's wrapper as the owner.
    if retention_internal._foreign_descendant(c.rel) is not null then
      raise exception 'cannot read %: % below it is a foreign table', c.rel, retention_internal._foreign_descendant(c.rel)
        using errcode = 'RT013', hint = 'pg-retention reads tables as its owner, and a foreign table''s wrapper would connect with the owner''s user mapping: detach the foreign table, or unregister the object column (retention.drop_object_column).';
    end if;
    if c.url_prefix is null then
      return query execute format('select distinct t.%I::text from %s t where t.%I = any ($1)',
                                  c.current_name, c.rel, c.current_name) using p_keys;
    else
      return query execute format('select distinct retention.object_key_of(t.%I, %L) from %s t
                                    where retention.object_key_of(t.%I, %L) = any ($1)',
                                  c.current_name, c.url_prefix, c.rel, c.current_name, c.url_prefix) using p_keys;
    end if;
  end loop;
end
$$;
comment on function retention_internal._objects_referenced(text, text[]) is
  'Internal. The keys of the list that a remaining row of one of the target''s object columns still references (another spelling of a URL included).';

-- The worker: up to p_limit pending object deletions of the named targets that are due,
-- oldest first, each leased for p_lease (a worker that dies leaves them to be claimed
-- again). An entry whose object a remaining row still references is settled as 'kept'
-- and returned with kept true and no key: not to be deleted. Fails (42501, RT023) when a table of an object column of
-- these targets cannot be read in full: no object is deleted on a guess.
create or replace function retention.claim_object_deletions(p_targets text[], p_limit integer default 100,
                                                           p_lease interval default interval '10 minutes')
returns table (deletion_id bigint, target text, object_key text, attempts integer, kept boolean)
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  d      record;
  c      record;
  v_ids  bigint[];
  v_tgts text[];
  v_keys text[];
  v_atts integer[];
  v_ref  text[];
begin
  if p_targets is null or cardinality(p_targets) = 0 then
    raise exception 'name the storage targets this worker can reach'
      using errcode = 'RT006', hint = 'The names PG_RETENTION_OBJECT_TARGETS gives, e.g. ARRAY[''recordings''].';
  end if;
  if p_limit is null or p_limit not between 1 and 10000 then
    raise exception 'p_limit must be between 1 and 10000, got %', p_limit
      using errcode = 'RT006', hint = 'Entries per claim; the default is 100.';
  end if;
  if p_lease is null or p_lease not between interval '10 seconds' and interval '1 day' then
    raise exception 'p_lease must be between 10 seconds and 1 day, got %', p_lease
      using errcode = 'RT006', hint = 'How long a claimed entry waits before another worker may take it; the default is 10 minutes.';
  end if;
  for c in select distinct o.rel from retention.object_columns o
            where o.target = any (p_targets) and exists (select from pg_catalog.pg_class k where k.oid = o.rel) loop
    if not pg_catalog.has_table_privilege(current_user, c.rel, 'SELECT') then
      raise exception 'permission denied for table %: the retention owner % cannot see whether its rows reference an object', c.rel, current_user
        using errcode = '42501', hint = format('A DBA grants it: GRANT SELECT ON %s TO %I;', c.rel, current_user);
    end if;
    perform retention_internal._check_owner_sees_all(c.rel);
  end loop;
  -- The due entries, locked; then, per target, which of their keys remaining rows still
  -- reference (one look-up per column for the whole claim).
  select coalesce(array_agg(x.deletion_id order by x.next_attempt_at, x.deletion_id), '{}'),
         array_agg(x.target order by x.next_attempt_at, x.deletion_id),
         array_agg(x.object_key order by x.next_attempt_at, x.deletion_id),
         array_agg(x.attempts order by x.next_attempt_at, x.deletion_id)
    into v_ids, v_tgts, v_keys, v_atts
    from (select y.* from retention.object_deletions y
           where y.status = 'pending' and y.target = any (p_targets) and y.next_attempt_at <= now()
           order by y.next_attempt_at, y.deletion_id
           limit p_limit
             for update skip locked) x;
  v_ref := '{}';
  for d in select u.t, array_agg(u.k) as keys from unnest(v_tgts, v_keys) u(t, k) group by u.t loop
    v_ref := v_ref || array(select d.t || '/' || r from retention_internal._objects_referenced(d.t, d.keys) r);
  end loop;
  for i in 1 .. cardinality(v_ids) loop
    deletion_id := v_ids[i];
    target := v_tgts[i];
    kept := (v_tgts[i] || '/' || v_keys[i]) = any (v_ref);
    if kept then
      update retention.object_deletions x
         set status = 'kept', settled_at = now(), object_key = null, last_error = null
       where x.deletion_id = v_ids[i];
      object_key := null;
      attempts := v_atts[i];
    else
      update retention.object_deletions x
         set attempts = x.attempts + 1, next_attempt_at = now() + p_lease
       where x.deletion_id = v_ids[i];
      object_key := v_keys[i];
      attempts := v_atts[i] + 1;
    end if;
    return next;
  end loop;
end
$$;
comment on function retention.claim_object_deletions(text[], integer, interval) is
  'Worker: claims due object deletions of the named targets (leased for p_lease); entries whose object a remaining row still references are settled as kept instead.';

-- The worker reports a claimed deletion: done (p_error NULL; an object that was not there
-- counts as deleted), or failed: tried again after a backoff (30 s doubling per attempt,
-- at most an hour), or dead after p_max_attempts attempts (notified, audit-logged).
create or replace function retention.object_deletion_done(p_id bigint, p_error text default null,
                                                         p_max_attempts integer default 8)
returns text
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  d retention.object_deletions;
begin
  -- A decision or a record of the login's: not made by another role's code in its session (round atk148 F3).
  perform retention_internal._check_called_directly('record an object''s deletion');
  if p_max_attempts is null or p_max_attempts not between 1 and 100 then
    raise exception 'p_max_attempts must be between 1 and 100, got %', p_max_attempts
      using errcode = 'RT006', hint = 'The default is 8 (about two hours of retries).';
  end if;
  select * into d from retention.object_deletions x where x.deletion_id = p_id for update;
  if not found or d.status <> 'pending' or d.attempts = 0 then
    raise exception 'object deletion % is not claimed', p_id
      using errcode = '55000', hint = 'Report only what retention.claim_object_deletions returned.';
  end if;
  if p_error is null then
    update retention.object_deletions x
       set status = 'deleted', settled_at = now(), object_key = null, last_error = null
     where x.deletion_id = p_id;
    return 'deleted';
  end if;
  if d.attempts >= p_max_attempts then
    -- The store's error may quote the key (a person's name in a path): kept without it.
    update retention.object_deletions x set status = 'dead', last_error = left(replace(p_error, d.object_key, '<key>'), 2000)
     where x.deletion_id = p_id;
    insert into retention.notifications (kind, dedupe_key, payload)
    values ('object_deletion_failed', 'object_deletion_failed:' || p_id || ':' || d.attempts,
            jsonb_build_object('kind', 'object_deletion_failed', 'deletion_id', p_id, 'target', d.target,
                               'table', d.rel_name, 'column', d.column_name, 'run_id', d.run_id,
                               'attempts', d.attempts, 'error', left(replace(p_error, d.object_key, '<key>'), 500)))
    on conflict do nothing;
    -- The key (it may name a person) stays out of the notification and the audit log,
    -- even where the store's error quotes it; the audit log, kept for good, keeps no
    -- error text at all (a store may quote the key in a form not replaced here; the
    -- outbox row keeps the error until the deletion is resolved).
    perform retention_internal._append_audit('object_deletion.dead', 'object', d.target,
      jsonb_build_object('deletion_id', p_id, 'key_sha256', d.key_sha256, 'attempts', d.attempts));
    return 'dead';
  end if;
  update retention.object_deletions x
     set last_error = left(replace(p_error, d.object_key, '<key>'), 2000),
         next_attempt_at = now() + least(interval '30 seconds' * power(2, d.attempts - 1), interval '1 hour')
   where x.deletion_id = p_id;
  return 'pending';
end
$$;
comment on function retention.object_deletion_done(bigint, text, integer) is
  'Worker: reports a claimed object deletion as done (p_error NULL) or failed (retried with backoff; dead, notified and audit-logged after p_max_attempts attempts).';

-- Queues dead object deletions again (all, or the given ids): after fixing what made them
-- fail (credentials, a target). Entries dead from the start (the value names no object:
-- attempts 0) stay dead. Audit-logged.
create or replace function retention.retry_object_deletions(p_ids bigint[] default null)
returns integer
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set standard_conforming_strings = on
set timezone = 'UTC'
as $$
declare
  v_n    integer;
  v_ids  bigint[];
  v_tgts text;
begin
  -- A decision or a record of the login's: not made by another role's code in its session (round atk148 F3).
  perform retention_internal._check_called_directly('retry object deletions');
  perform retention_internal._routine_write();
  -- A DBA types the ids: one that names no deletion says so (atk97 F10f), as
  -- requeue_notification does; one that is not dead is just not queued again.
  select array_agg(i order by i) into v_ids
    from (select distinct i from unnest(p_ids) i
           where i is null or not exists (select from retention.object_deletions x where x.deletion_id = i)) u;
  if v_ids is not null then
    raise exception 'object deletion % does not exist', array_to_string(v_ids[1:5], ', ', 'NULL')
        || case when cardinality(v_ids) > 5 then format(' (and %s more)', cardinality(v_ids) - 5) else '' end
      using errcode = 'RT042', hint = 'SELECT deletion_id, target, last_error FROM retention.object_deletions WHERE status = ''dead'' lists those to queue again; nothing was queued.';
  end if;
  with r as (
    update retention.object_deletions x
       set status = 'pending', attempts = 0, next_attempt_at = now()
     where x.status = 'dead' and x.attempts > 0 and (p_ids is null or x.deletion_id = any (p_ids))
    returning x.deletion_id, x.target)
  select count(*), array_agg(r.deletion_id order by r.deletion_id), string_agg(distinct r.target, ',')
    into v_n, v_ids, v_tgts from r;
  if v_n > 0 then
    perform retention_internal._append_audit('object_deletion.retried', 'object', v_tgts,
      jsonb_build_object('deletion_ids', v_ids));
  end if;
  return v_n;
end
$$;
comment on function retention.retry_object_deletions(bigint[]) is
  'Queues dead object deletions again (all, or p_ids), except those whose reference names no object (never attempted). Audit-logged.';
