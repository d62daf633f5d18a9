//! `universe universes`: list, show and resolve universes and other groups.

use anyhow::Result;
use clap::Subcommand;

use super::table::TextTable;
use super::{open, print_json};
use crate::config::Config;
use crate::domain::{GroupKind, Picked, Sector, pick_named};

#[derive(Subcommand, Debug)]
pub(super) enum UniversesCommand {
    /// Groups with their type and member count.
    #[command(after_help = "Example:\n  universe universes list --type UNIVERSE --type ETF")]
    List {
        /// Only these types: UNIVERSE, ETF, SECTOR, THEME, SEGMENT, CUSTOM (groups), stock_universe, etf_universe
        /// (`cache_entries` universe rows) [default: all of them].
        #[arg(long = "type", value_parser = parse_list_type)]
        kinds: Vec<ListType>,
    },
    /// Members of one group with weight and sector.
    #[command(
        after_help = "Examples:\n  universe universes show SPY\n  universe universes show nasdaq100 --as-of 2026-01-31"
    )]
    Show {
        /// Group name (case-insensitive where unambiguous).
        name: String,
        /// The group's type, when the name is used by several.
        #[arg(long = "type", value_enum, ignore_case = true)]
        kind: Option<GroupKind>,
        /// Members as of this date (UTC end of day), from membership history.
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
    },
    /// A group's additions and removals between two days, from its membership history.
    #[command(after_help = "Example:\n  universe universes history sp500 --from 2008-09-01 --to 2008-12-31")]
    History {
        /// Group name (case-insensitive where unambiguous).
        name: String,
        /// The group's type, when the name is used by several.
        #[arg(long = "type", value_enum, ignore_case = true)]
        kind: Option<GroupKind>,
        /// First day [default: where the history starts].
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// Last day [default: today].
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
    },
    /// Resolve a universe key (`nasdaq100:dow30:SPY`) to its sorted, de-duplicated symbols.
    #[command(after_help = "Grammar: a:b and a|b (union), a&b (intersection), a-b (difference), ( ), NAME@YYYY-MM-DD \
                      (as of a day); & binds tighter, the others left to right; spaces allowed.\n\
                      Examples:\n  universe universes resolve nasdaq100\n  universe universes resolve SPY:QQQ:dow30 --json\n  \
                      universe universes resolve 'sp500&information_technology'\n  \
                      universe universes resolve '(nasdaq100|dow30)-SPY'\n  \
                      universe universes resolve 'sp500@2008-09-12 - sp500'")]
    Resolve {
        /// The key or expression: `a:b` / `a|b` union, `a&b` intersection, `a-b` difference, parentheses, and
        /// `NAME@YYYY-MM-DD` for a part as of a day (e.g. `sp500@2008-09-12 - sp500`: who has left since).
        key: String,
        /// The whole expression as of this day (its groups' membership history).
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
    },
}

/// Runs one `universe universes` command.
pub(super) async fn run(command: UniversesCommand, config: &Config) -> Result<()> {
    let store = open(config).await?;
    let env = config.environment;
    match command {
        UniversesCommand::List { kinds } => {
            let group_kinds: Vec<GroupKind> =
                kinds.iter().filter_map(|k| if let ListType::Group(g) = k { Some(*g) } else { None }).collect();
            let cache_kinds: Vec<&str> =
                kinds.iter().filter_map(|k| if let ListType::Cache(c) = k { Some(c.as_str()) } else { None }).collect();
            let groups = if kinds.is_empty() || !group_kinds.is_empty() {
                store.group_summaries(env, &group_kinds).await?
            } else {
                Vec::new()
            };
            let cache_types: Vec<&str> = match (kinds.is_empty(), cache_kinds.is_empty()) {
                (true, _) => vec!["stock_universe", "etf_universe"],
                (false, true) => Vec::new(),
                (false, false) => cache_kinds,
            };
            let rows = if cache_types.is_empty() { Vec::new() } else { store.cache_rows(env, &cache_types).await? };
            let cache: Vec<serde_json::Value> = rows
                .iter()
                .filter_map(|(t, n, k, v)| {
                    let count = v.as_ref().and_then(crate::universes::cache_value_symbols)?.len();
                    Some(serde_json::json!({ "type": t, "name": format!("{t}:{k}"), "member_count": count, "description": n }))
                })
                .collect();
            if config.json {
                if cache.is_empty() {
                    return print_json(&groups);
                }
                let mut all = serde_json::to_value(&groups)?.as_array().cloned().unwrap_or_default();
                all.extend(cache.iter().cloned());
                return print_json(&all);
            }
            let mut t = TextTable::new(&["type", "name", "members", "description"], &[false, false, true, false]);
            for g in &groups {
                t.row(vec![
                    g.kind.clone(),
                    g.name.clone(),
                    g.member_count.to_string(),
                    g.description.clone().unwrap_or_default(),
                ]);
            }
            for c in &cache {
                t.row(vec![
                    c["type"].as_str().unwrap_or_default().to_string(),
                    c["name"].as_str().unwrap_or_default().to_string(),
                    c["member_count"].to_string(),
                    c["description"].as_str().unwrap_or_default().to_string(),
                ]);
            }
            print!("{}", t.render());
            println!("{} groups, {} cache universes", groups.len(), cache.len());
        }
        UniversesCommand::Show { name, kind, as_of } => {
            let (kind, name) = pick_group(&store, env, &name, kind).await?;
            if let Some(date) = as_of {
                let syms: Vec<String> =
                    crate::universes::group_members_on(&store, env, kind, &name, date).await?.into_iter().collect();
                if config.json {
                    return print_json(
                        &serde_json::json!({ "type": kind, "name": name, "as_of": date, "symbols": syms }),
                    );
                }
                println!("{kind} {name} as of {date}: {} members", syms.len());
                println!("{}", syms.join(" "));
                return Ok(());
            }
            let members = store.group_member_details(env, kind, &name).await?;
            if config.json {
                return print_json(&serde_json::json!({ "type": kind, "name": name, "members": members }));
            }
            println!("{kind} {name}: {} members", members.len());
            let mut t = TextTable::new(
                &["symbol", "weight", "sector", "industry", "name"],
                &[false, true, false, false, false],
            );
            for m in &members {
                let sector = m.sector.as_deref().map_or_else(String::new, |k| {
                    Sector::from_key(k).map_or_else(|| k.to_string(), |s| s.display_name().to_string())
                });
                t.row(vec![
                    m.symbol.clone(),
                    m.weight.map(|w| format!("{:.2}%", w * 100.0)).unwrap_or_default(),
                    sector,
                    m.industry.clone().unwrap_or_default(),
                    m.name.clone().unwrap_or_default(),
                ]);
            }
            print!("{}", t.render());
        }
        UniversesCommand::History { name, kind, from, to } => {
            let (kind, name) = pick_group(&store, env, &name, kind).await?;
            let first = store.history_start(env, kind, &name).await?.map(|s| s.date_naive());
            let from = from.or(first).unwrap_or_else(|| chrono::Utc::now().date_naive());
            let to = to.unwrap_or_else(|| chrono::Utc::now().date_naive());
            let (start, changes) = crate::universes::group_changes(&store, env, kind, &name, from, to).await?;
            if config.json {
                return print_json(&serde_json::json!({
                    "type": kind, "name": name, "history_start": start, "from": from, "to": to,
                    "count": changes.len(), "changes": changes,
                }));
            }
            println!("{kind} {name}: {} changes from {from} to {to} (history from {start})", changes.len());
            let mut t = TextTable::new(&["date", "action", "symbol"], &[false, false, false]);
            for c in &changes {
                t.row(vec![c.date.to_string(), c.action.to_string(), c.symbol.clone()]);
            }
            print!("{}", t.render());
        }
        UniversesCommand::Resolve { key, as_of } => {
            let symbols = crate::universes::resolve_on(&store, env, &key, as_of).await?;
            if config.json {
                return print_json(&serde_json::json!({ "key": key, "count": symbols.len(), "symbols": symbols }));
            }
            println!("{key}: {} symbols", symbols.len());
            println!("{}", symbols.join(" "));
        }
    }
    Ok(())
}

/// The one group a name (and optional type) names.
async fn pick_group(
    store: &crate::store::Store,
    env: crate::domain::Environment,
    name: &str,
    kind: Option<GroupKind>,
) -> Result<(GroupKind, String)> {
    let found: Vec<(GroupKind, String)> =
        store.find_groups_named(env, name).await?.into_iter().filter(|(k, _)| kind.is_none_or(|kk| kk == *k)).collect();
    match pick_named(name, &found, |(_, n)| n.as_str()) {
        Picked::None => anyhow::bail!("no group named {name:?} in environment {env}"),
        Picked::One(one) => Ok(one.clone()),
        Picked::Many(many) => anyhow::bail!(
            "{name:?} names several groups ({}); add --type",
            many.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// A type `universes list` shows: a group kind or a `cache_entries` universe type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ListType {
    /// `definition_groups` of a kind.
    Group(GroupKind),
    /// `cache_entries` universe rows of a type.
    Cache(crate::domain::CacheKind),
}

fn parse_list_type(s: &str) -> Result<ListType, String> {
    if let Some(c) = crate::domain::CacheKind::parse(s) {
        return Ok(ListType::Cache(c));
    }
    GroupKind::parse(&s.to_ascii_uppercase()).map(ListType::Group).ok_or_else(|| {
        format!("{s:?}: expected UNIVERSE, ETF, SECTOR, THEME, SEGMENT, CUSTOM, stock_universe or etf_universe")
    })
}
