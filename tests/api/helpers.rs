//! Test harness: a fresh, migrated database per test on SQLite (a temp file) or PostgreSQL (a database copied
//! from a migrated template on the server named by `TEST_DATABASE_URL`, which `scripts/test.sh` provides).

use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::{AssertSqlSafe, Connection, PgConnection};
use universe::domain::{Environment, GroupKind};
use universe::load::{self, Input, LoadError, LoadKind, LoadReport, LoadRequest, Mode};
use universe::store::{Backend, Store};

/// Runs each named `async fn(&TestDb)` once on SQLite and once on PostgreSQL.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    let db = $crate::helpers::TestDb::new(universe::store::Backend::Sqlite).await;
                    super::$name(&db).await;
                    db.cleanup().await;
                }
                #[tokio::test]
                async fn postgres() {
                    if !$crate::helpers::postgres_available() {
                        return;
                    }
                    let db = $crate::helpers::TestDb::new(universe::store::Backend::Postgres).await;
                    super::$name(&db).await;
                    db.cleanup().await;
                }
            }
        )*
    };
}
pub(crate) use contract;

static TEMPLATE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Whether the PostgreSQL half of the suite runs. With `TEST_DATABASE_URL` set it does. Without it, plain
/// `cargo test` runs the SQLite half and says once, on the terminal, that the PostgreSQL half did not run;
/// `scripts/test.sh` (and so CI) sets `UNIVERSE_TEST_REQUIRE_POSTGRES=1`, under which a missing server fails.
pub fn postgres_available() -> bool {
    if std::env::var_os("TEST_DATABASE_URL").is_some() {
        return true;
    }
    if std::env::var("UNIVERSE_TEST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
        panic!("TEST_DATABASE_URL is not set and UNIVERSE_TEST_REQUIRE_POSTGRES=1: the PostgreSQL half must run");
    }
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        use std::io::Write;
        // Straight to the terminal: the test harness captures print! and eprint!, not the handle.
        let _ = writeln!(
            std::io::stderr(),
            "note: TEST_DATABASE_URL is not set, so the PostgreSQL half of the suite did not run \
             (scripts/test.sh runs both)"
        );
    });
    false
}

/// The PostgreSQL server for tests.
pub fn pg_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .expect("TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, which starts a throwaway PostgreSQL")
}

/// The admin URL with another database name.
pub fn url_with_db(admin: &str, db: &str) -> String {
    let (base, query) = admin.split_once('?').map_or((admin, None), |(b, q)| (b, Some(q)));
    let (scheme, rest) = base.split_once("://").expect("a postgres URL has a scheme");
    let host = rest.split('/').next().unwrap_or(rest);
    match query {
        Some(q) => format!("{scheme}://{host}/{db}?{q}"),
        None => format!("{scheme}://{host}/{db}"),
    }
}

async fn admin() -> PgConnection {
    PgConnection::connect(&pg_admin_url()).await.expect("connect to the test PostgreSQL server")
}

async fn exec(c: &mut PgConnection, sql: String) {
    sqlx::query(AssertSqlSafe(sql.clone())).execute(c).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Drops test databases left by earlier runs whose process is gone.
async fn drop_stale(c: &mut PgConnection) {
    let names: Vec<String> = sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'ut\\_%'")
        .fetch_all(&mut *c)
        .await
        .expect("list databases");
    for name in names {
        let pid = name.split('_').nth(if name.starts_with("ut_tpl_") { 2 } else { 1 });
        let alive = pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            exec(c, format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
        }
    }
}

async fn template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let mut c = admin().await;
            drop_stale(&mut c).await;
            let name = format!("ut_tpl_{}", std::process::id());
            exec(&mut c, format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
            exec(&mut c, format!("CREATE DATABASE {name}")).await;
            let store = Store::open(&url_with_db(&pg_admin_url(), &name)).await.expect("migrate the template");
            store.close().await;
            name
        })
        .await
}

/// A fresh database for one test.
pub struct TestDb {
    /// The store under test.
    pub store: Store,
    /// Its URL (for running the CLI against it).
    pub url: String,
    /// Temp folder (SQLite file, input files).
    pub dir: tempfile::TempDir,
    pg_name: Option<String>,
}

impl TestDb {
    /// A fresh migrated database on the backend.
    pub async fn new(backend: Backend) -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                let store = Store::open(&url).await.expect("open sqlite");
                TestDb { store, url, dir, pg_name: None }
            }
            Backend::Postgres => {
                let tpl = template().await;
                let name = format!("ut_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
                exec(&mut admin().await, format!("CREATE DATABASE {name} TEMPLATE {tpl}")).await;
                let url = url_with_db(&pg_admin_url(), &name);
                let store = Store::open(&url).await.expect("open postgres");
                TestDb { store, url, dir, pg_name: Some(name) }
            }
        }
    }

    /// An empty PostgreSQL database with no schema (for the in-place migration test).
    pub async fn empty_postgres() -> (String, String) {
        let name = format!("ut_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
        exec(&mut admin().await, format!("CREATE DATABASE {name}")).await;
        (url_with_db(&pg_admin_url(), &name), name)
    }

    /// Drops a database made by [`TestDb::empty_postgres`].
    pub async fn drop_postgres(name: &str) {
        exec(&mut admin().await, format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
    }

    /// Closes the pool and drops the PostgreSQL database.
    pub async fn cleanup(self) {
        self.store.close().await;
        if let Some(name) = &self.pg_name {
            TestDb::drop_postgres(name).await;
        }
    }

    /// Loads in-memory files.
    pub async fn load(&self, kind: LoadKind, files: &[(&str, &str)], mode: Mode) -> Result<LoadReport, LoadError> {
        self.load_with(kind, files, mode, |_| {}).await
    }

    /// Loads in-memory files, adjusting the request first.
    pub async fn load_with(
        &self,
        kind: LoadKind,
        files: &[(&str, &str)],
        mode: Mode,
        adjust: impl FnOnce(&mut LoadRequest),
    ) -> Result<LoadReport, LoadError> {
        let inputs = files.iter().map(|(n, c)| Input::from_bytes(*n, c.as_bytes())).collect();
        let mut req = LoadRequest { mode, ..LoadRequest::new(kind, inputs, Environment::Default) };
        adjust(&mut req);
        load::run(&self.store, &req).await
    }

    /// Loads the sample data `universe demo` bundles, and organizes it with the default definitions.
    pub async fn seed_sample(&self) {
        for (kind, inputs) in universe::sample::demo_loads() {
            load::run(&self.store, &LoadRequest::new(kind, inputs, Environment::Default)).await.expect("sample loads");
        }
        self.organize().await;
    }

    /// Runs organize with the default definitions.
    pub async fn organize(&self) {
        let req = universe::organize::OrganizeRequest {
            definitions: universe::organize::shipped_definitions(),
            preserve: false,
            dry_run: false,
            environment: Environment::Default,
            force: false,
        };
        universe::organize::run(&self.store, &req).await.expect("organize");
    }

    /// Loads and expects success.
    pub async fn load_ok(&self, kind: LoadKind, files: &[(&str, &str)], mode: Mode) -> LoadReport {
        match self.load(kind, files, mode).await {
            Ok(r) => r,
            Err(LoadError::Invalid { problems, .. }) => {
                panic!("unexpected problems: {problems:#?}")
            }
            Err(e) => panic!("load failed: {e}"),
        }
    }

    /// Loads and expects the input to be rejected; returns the problems as text.
    pub async fn load_err(&self, kind: LoadKind, files: &[(&str, &str)]) -> Vec<String> {
        match self.load(kind, files, Mode::Full).await {
            Err(LoadError::Invalid { problems, run_id }) => {
                assert!(run_id.is_some(), "a failed load is recorded");
                problems.iter().map(ToString::to_string).collect()
            }
            Ok(r) => panic!("expected the input to be rejected, but it loaded: {r:#?}"),
            Err(e) => panic!("expected problems, got {e}"),
        }
    }

    /// Members of a group: (symbol, weight) sorted by symbol.
    pub async fn members(&self, kind: GroupKind, name: &str) -> Vec<(String, Option<f64>)> {
        let mut m: Vec<(String, Option<f64>)> = self
            .store
            .group_member_details(Environment::Default, kind, name)
            .await
            .expect("members")
            .into_iter()
            .map(|m| (m.symbol, m.weight))
            .collect();
        m.sort_by(|a, b| a.0.cmp(&b.0));
        m
    }

    /// Symbols of a group, sorted.
    pub async fn symbols_of(&self, kind: GroupKind, name: &str) -> Vec<String> {
        self.members(kind, name).await.into_iter().map(|m| m.0).collect()
    }

    /// Everything a load may write except `load_runs`: groups with metadata, memberships, history, symbols.
    pub async fn state(&self) -> Vec<String> {
        let mut out = Vec::new();
        for kind in GroupKind::ALL {
            for g in self.store.groups_with_members(Environment::Default, kind).await.expect("groups") {
                out.push(format!("group {kind} {} {:?} {:?}", g.name, g.description, g.metadata));
                for (t, m) in &g.members {
                    out.push(format!("member {kind} {} {t} {:?} {:?}", g.name, m.weight, m.metadata));
                }
            }
        }
        let mut symbols: Vec<_> = self.store.symbols().await.expect("symbols").into_values().collect();
        symbols.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        out.extend(symbols.iter().map(|s| format!("symbol {s:?}")));
        out.push(format!("history rows {}", self.store.count_rows("membership_history").await.expect("count")));
        let rows = self.store.cache_rows_text(Environment::Default, &universe::organize::MANAGED_TYPES).await;
        out.extend(rows.expect("cache rows").into_iter().map(|r| format!("cache {r:?}")));
        out
    }

    /// The symbols of a cache row of a type, by key, sorted (empty when there is no such row).
    pub async fn cache_symbols(&self, kind: &str, key: &str) -> Vec<String> {
        let rows = self.store.cache_rows(Environment::Default, &[kind]).await.expect("cache rows");
        let value = rows.into_iter().find(|r| r.2 == key).and_then(|r| r.3);
        let mut symbols = value.as_ref().and_then(universe::universes::cache_value_symbols).unwrap_or_default();
        symbols.sort();
        symbols
    }

    /// Open history intervals (valid_to null) — must equal the membership count.
    pub async fn open_intervals(&self) -> i64 {
        let sql = "SELECT COUNT(*) FROM membership_history WHERE valid_to IS NULL";
        match &self.store {
            Store::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.expect("count"),
            Store::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.expect("count"),
        }
    }

    /// Runs raw SQL (to build states our loaders refuse to create).
    pub async fn exec(&self, sql: &str) {
        let q = sqlx::AssertSqlSafe(sql.to_string());
        match &self.store {
            Store::Sqlite(p) => sqlx::raw_sql(q).execute(p).await.map(|_| ()),
            Store::Postgres(p) => sqlx::raw_sql(q).execute(p).await.map(|_| ()),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Writes a file into the test's temp folder and returns its path.
    pub fn write_file(&self, name: &str, content: impl AsRef<[u8]>) -> std::path::PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, content).expect("write test file");
        p
    }
}

/// A file from `../shared/data`.
pub fn shared_data(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data").join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A small deterministic random generator for property tests (a fixed seed reproduces a failure).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}
