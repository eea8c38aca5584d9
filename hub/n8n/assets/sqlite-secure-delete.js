'use strict';
// Preloaded into the local n8n by hub.n8n.local (NODE_OPTIONS=--require=<this file>).
//
// n8n 2.x keeps SQLite in WAL mode and never enables secure_delete, so the bytes of a
// deleted execution row (which holds the whole webhook request body) stay in freed pages of
// database.sqlite and in old frames of database.sqlite-wal long after the row is gone.
// This hook, for every SQLite connection n8n opens through the `sqlite3` package:
//   * sets PRAGMA secure_delete = ON (SQLite overwrites deleted content with zeros) and
//     PRAGMA journal_size_limit = 0 (the WAL file is truncated when it is reset);
//   * after each DELETE on execution_entity (n8n's hard delete of a finished run; the
//     execution_data row goes with it by cascade) runs PRAGMA wal_checkpoint(TRUNCATE), so
//     the zeroed pages reach database.sqlite and the WAL with the old frames is emptied.
// It changes nothing else. Set HUB_N8N_SECURE_DELETE_DEBUG=1 to log what it does.
const Module = require('module');

const DEBUG = process.env.HUB_N8N_SECURE_DELETE_DEBUG === '1';
const EXEC_DELETE = /^\s*DELETE\s+FROM\s+"?[A-Za-z0-9_]*execution_entity"?/i;
const SQLITE3_PACKAGE = /(^|[\\/])sqlite3([\\/]lib[\\/]sqlite3(\.js)?)?[\\/]?$/;
const CHECKPOINT_DELAY_MS = 5;
const CHECKPOINT_RETRY_MS = 100;
const CHECKPOINT_MAX_TRIES = 50;

function log(...args) {
  if (DEBUG) console.error('[hub-secure-delete]', ...args);
}

function warn(...args) {
  console.error('[hub-secure-delete]', ...args);
}

function setup(db) {
  const onErr = (what) => (err) => {
    if (err) warn(`${what} failed: ${err.message}`);
  };
  db.run('PRAGMA secure_delete = ON', onErr('PRAGMA secure_delete'));
  db.run('PRAGMA journal_size_limit = 0', onErr('PRAGMA journal_size_limit'));
}

const state = new WeakMap(); // db -> {gen, done, scheduled, tries}

function markDirty(db) {
  let st = state.get(db);
  if (!st) {
    st = { gen: 0, done: 0, scheduled: false, tries: 0 };
    state.set(db, st);
  }
  st.gen += 1;
  if (!st.scheduled) schedule(db, st, CHECKPOINT_DELAY_MS);
}

function schedule(db, st, delay) {
  st.scheduled = true;
  const timer = setTimeout(() => {
    const gen = st.gen;
    st.tries += 1;
    db.all('PRAGMA wal_checkpoint(TRUNCATE)', (err, rows) => {
      const busy = Boolean(err) || !rows || !rows[0] || rows[0].busy !== 0;
      if (!busy) {
        log('checkpoint(TRUNCATE) done after', st.tries, 'tries', rows[0]);
        st.done = gen;
        st.tries = 0;
        if (st.gen !== gen) schedule(db, st, CHECKPOINT_DELAY_MS); // deleted again meanwhile
        else st.scheduled = false;
        return;
      }
      if (st.tries >= CHECKPOINT_MAX_TRIES) {
        warn('wal_checkpoint(TRUNCATE) still busy after', st.tries, 'tries:', err ? err.message : rows);
        st.tries = 0;
        st.scheduled = false;
        return;
      }
      schedule(db, st, CHECKPOINT_RETRY_MS);
    });
  }, delay);
  if (timer.unref) timer.unref();
}

function patch(sqlite3) {
  if (!sqlite3 || typeof sqlite3.Database !== 'function' || sqlite3.__hubSecureDelete) return;
  const Base = sqlite3.Database;
  const origRun = Base.prototype.run;
  Base.prototype.run = function run(sql, ...rest) {
    if (typeof sql !== 'string' || !EXEC_DELETE.test(sql)) return origRun.call(this, sql, ...rest);
    const db = this;
    const last = rest.length - 1;
    if (last >= 0 && typeof rest[last] === 'function') {
      const callback = rest[last];
      rest[last] = function done(...cbArgs) {
        markDirty(db); // after the DELETE has run (it commits on its own in autocommit mode)
        return callback.apply(this, cbArgs);
      };
      return origRun.call(this, sql, ...rest);
    }
    const result = origRun.call(this, sql, ...rest);
    markDirty(db);
    return result;
  };
  sqlite3.Database = new Proxy(Base, {
    construct(target, args, newTarget) {
      const db = Reflect.construct(target, args, newTarget === sqlite3.Database ? target : newTarget);
      try {
        setup(db);
      } catch (e) {
        warn('setup failed:', e && e.message);
      }
      return db;
    },
  });
  Object.defineProperty(sqlite3, '__hubSecureDelete', { value: true });
  log('sqlite3 patched (secure_delete, WAL truncation after execution deletes)');
}

const origLoad = Module._load;
Module._load = function load(request, parent, isMain) {
  const exported = origLoad.apply(this, arguments);
  // the package itself ('sqlite3' or a path to it), not its inner './sqlite3-binding.js'
  // (lib/sqlite3.js defines Database.prototype.run after loading the binding)
  if (typeof request === 'string' && SQLITE3_PACKAGE.test(request)) {
    try {
      patch(exported);
    } catch (e) {
      warn('could not patch sqlite3:', e && e.message);
    }
  }
  return exported;
};
