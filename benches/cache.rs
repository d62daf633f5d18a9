//! Relationship-cache lookups at peer scale (24 ETFs / 11,778 holdings, 4 universes, 10,000 symbols, sectors,
//! 20 themes, organized cache rows) against a bare `HashMap` probe measured in the same run, plus the snapshot
//! build (index only, and read + index from SQLite). Run: `cargo bench --bench cache`.

use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use universe::cache;
use universe::domain::{Environment, GroupKind, UniverseKey};
use universe::load::{self, DEFAULT_MAX_INPUT_BYTES, Input, LoadKind, LoadRequest};
use universe::store::Store;

fn inputs(dir: &Path) -> Vec<Input> {
    let mut paths: Vec<_> = std::fs::read_dir(dir).expect("data folder").map(|e| e.expect("entry").path()).collect();
    paths.sort();
    paths.iter().map(|p| Input::read(p, DEFAULT_MAX_INPUT_BYTES).expect("readable")).collect()
}

/// A SQLite store holding the peer-scale data set, organized.
async fn peer_store(dir: &Path) -> Store {
    universe::sample::write_peer_dataset(dir, 0).expect("write the data set");
    let store = Store::open(&format!("sqlite://{}", dir.join("bench.db").display())).await.expect("open");
    let env = Environment::Default;
    let one = |p: &str| vec![Input::read(&dir.join(p), DEFAULT_MAX_INPUT_BYTES).expect("readable")];
    for (kind, files) in [
        (LoadKind::Symbols, one("symbols.csv")),
        (LoadKind::Holdings, inputs(&dir.join("holdings"))),
        (LoadKind::Universes, inputs(&dir.join("universes"))),
        (LoadKind::Sectors, one("sectors.csv")),
    ] {
        load::run(&store, &LoadRequest::new(kind, files, env)).await.expect("load");
    }
    let (themes, bytes) = ("themes.toml", include_bytes!("../data/themes.toml"));
    load::run(&store, &LoadRequest::new(LoadKind::Themes, vec![Input::from_bytes(themes, &bytes[..])], env))
        .await
        .expect("themes");
    let (name, bytes) = universe::organize::DEFAULT_DEFINITIONS;
    let definitions = universe::organize::definitions::parse(&Input::from_bytes(name, bytes)).expect("definitions");
    let req = universe::organize::OrganizeRequest {
        definitions,
        preserve: false,
        dry_run: false,
        environment: env,
        force: false,
    };
    universe::organize::run(&store, &req).await.expect("organize");
    store
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = rt.block_on(peer_store(dir.path()));
    // What the snapshot holds, as the counting allocator sees it: the live bytes its drop frees.
    let snap = rt.block_on(cache::build(&store, Environment::Default)).expect("build");
    let with = cache::heap::live_bytes();
    drop(snap);
    let held = with - cache::heap::live_bytes();
    let snap = rt.block_on(cache::build(&store, Environment::Default)).expect("build");
    println!(
        "snapshot memory: reported {} bytes, allocator {} bytes ({:+.1} %)",
        snap.approx_bytes,
        held,
        (snap.approx_bytes as f64 / held as f64 - 1.0) * 100.0
    );
    let c0 = snap.counts();
    println!(
        "peer-scale snapshot: {} symbols, {} memberships, {} ETFs, {} universes, {} sectors, {} themes, {} cache \
         universes; approx {:.2} MB; indexed in {:.1} ms",
        c0.symbols,
        c0.memberships,
        c0.etfs,
        c0.universes,
        c0.sectors,
        c0.themes,
        c0.cache_universes,
        snap.approx_bytes as f64 / 1e6,
        snap.index_time.as_secs_f64() * 1e3
    );

    // The ceiling: a bare HashMap<String, Vec<u32>> from ticker to group ids, probed with the same key.
    let bare: HashMap<String, Vec<u32>> =
        snap.symbols().enumerate().map(|(i, s)| (s.ticker.to_string(), vec![i as u32])).collect();
    let etf = "SPY";
    let top = snap.group_named(GroupKind::Etf, etf).expect("SPY").members[0].symbol;
    let stock = snap.symbol(top).ticker.to_string();
    let union = UniverseKey::parse("sp500:nasdaq100:dow30").expect("key");

    let mut g = c.benchmark_group("lookup");
    g.bench_function("bare_hashmap_probe", |b| b.iter(|| black_box(bare.get(black_box(stock.as_str())).map(Vec::len))));
    g.bench_function("etf_holdings", |b| {
        b.iter(|| black_box(snap.group_named(GroupKind::Etf, black_box(etf)).map(|g| g.members.len())))
    });
    g.bench_function("stock_info", |b| {
        b.iter(|| {
            let s = snap.symbol(snap.symbol_id(black_box(&stock)).expect("known"));
            black_box((snap.sector_of(s).map(|g| g.members.len()), s.memberships.len()))
        })
    });
    g.bench_function("universe_union_3_parts", |b| {
        b.iter(|| {
            let r = snap.resolve(black_box(&union)).expect("resolves");
            black_box(snap.tickers(&r).len())
        })
    });
    g.finish();

    // Twenty years of index history (the shared S&P 500, 400 and 600 files) in the same snapshot: its memory next
    // to the snapshot without it, and an `as_of` membership query answered from it.
    let pit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/pit");
    let before = snap.approx_bytes;
    for index in ["sp500", "sp400", "sp600"] {
        let read = |f: String| Input::read(&pit.join(f), DEFAULT_MAX_INPUT_BYTES).expect("readable");
        let req = load::EventsRequest {
            seed: read(format!("{index}_seed.csv")),
            changes: read(format!("{index}_changes.csv")),
            name: universe::domain::GroupName::parse(GroupKind::Universe, index).expect("name"),
            environment: Environment::Default,
            dry_run: false,
        };
        rt.block_on(load::load_events(&store, &req)).expect("history");
    }
    let snap = rt.block_on(cache::build(&store, Environment::Default)).expect("build");
    println!(
        "with S&P 500/400/600 history: {} intervals; approx {:.2} MB against {:.2} MB without ({:.2}×)",
        snap.history().len(),
        snap.approx_bytes as f64 / 1e6,
        before as f64 / 1e6,
        snap.approx_bytes as f64 / before as f64
    );
    let sp500 = snap.group_named(GroupKind::Universe, "sp500").expect("sp500");
    let start = chrono::NaiveDate::from_ymd_opt(2005, 1, 3).expect("date");
    let days: Vec<chrono::NaiveDate> = (0..256).map(|i| start + chrono::Duration::days(i * 29)).collect();
    let mut g = c.benchmark_group("history");
    let mut i = 0;
    g.bench_function("as_of_sp500", |b| {
        b.iter(|| {
            i = (i + 1) % days.len();
            black_box(snap.members_on(sp500, black_box(days[i])).expect("in history").len())
        })
    });
    g.finish();

    let mut g = c.benchmark_group("snapshot");
    g.sample_size(20);
    g.bench_function("read_and_index_sqlite", |b| {
        b.iter(|| black_box(rt.block_on(cache::build(&store, Environment::Default)).expect("build").version))
    });
    g.finish();
}

criterion_group!(cache_benches, benches);
criterion_main!(cache_benches);
