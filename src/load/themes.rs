//! Theme definition files (TOML): key, display name, description, selection criteria, related themes, members.
//!
//! ```toml
//! [[theme]]
//! key = "crypto_miners"
//! name = "Bitcoin & Cryptocurrency Miners"
//! description = "Companies that mine bitcoin and other cryptocurrencies"
//! selection_criteria = "Primary revenue from cryptocurrency mining"
//! related_themes = ["blockchain"]
//! members = ["MARA", "RIOT", "CLSK"]
//! ```

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;
use toml::Spanned;

use super::input::{Input, Problem};
use super::parsed::{GroupInput, MemberSet, Parsed, file_name, load_metadata, plain_member};
use super::sectors::combined_checksum;
use crate::domain::{GroupKind, GroupName, Ticker};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemesFile {
    #[serde(rename = "theme", default)]
    themes: Vec<ThemeDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeDef {
    key: Spanned<String>,
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    selection_criteria: Option<String>,
    #[serde(default)]
    related_themes: Vec<String>,
    members: Vec<Spanned<String>>,
}

fn line_of(text: &str, offset: usize) -> u64 {
    text[..offset.min(text.len())].bytes().filter(|b| *b == b'\n').count() as u64 + 1
}

/// Parses theme files into THEME groups.
pub fn parse(inputs: &[Input], problems: &mut Vec<Problem>) -> Parsed {
    let checksum = combined_checksum(inputs);
    let mut out = Parsed::default();
    let mut seen: HashMap<GroupName, (String, u64)> = HashMap::new();
    for input in inputs {
        let Some(text) = input.text().map_err(|p| problems.push(p)).ok() else {
            continue;
        };
        let file: ThemesFile = match toml::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                let line = e.span().map_or(1, |s| line_of(text, s.start));
                problems.push(Problem::at(&input.name, line, None, format!("invalid themes file: {}", e.message())));
                continue;
            }
        };
        if file.themes.is_empty() {
            problems.push(Problem::file(&input.name, "no [[theme]] entries"));
        }
        for def in file.themes {
            let key_line = line_of(text, def.key.span().start);
            let name = match GroupName::parse(GroupKind::Theme, def.key.get_ref()) {
                Ok(n) => n,
                Err(e) => {
                    problems.push(Problem::at(&input.name, key_line, Some("key"), e.to_string()));
                    continue;
                }
            };
            if let Some((f, l)) = seen.get(&name) {
                problems.push(Problem::at(
                    &input.name,
                    key_line,
                    Some("key"),
                    format!("theme {name} is defined twice (also {f}:{l})"),
                ));
                continue;
            }
            seen.insert(name.clone(), (input.name.clone(), key_line));
            let mut members = MemberSet::default();
            for m in &def.members {
                let line = line_of(text, m.span().start);
                match Ticker::parse(m.get_ref()) {
                    Ok(t) => {
                        let member = plain_member(m.get_ref(), &t);
                        members.add(t, member, None, (&input.name, line, "members"), problems);
                    }
                    Err(e) => problems.push(Problem::at(&input.name, line, Some("members"), e.to_string())),
                }
            }
            if members.is_empty() {
                problems.push(Problem::at(
                    &input.name,
                    key_line,
                    Some("members"),
                    format!("theme {name} has no members"),
                ));
                continue;
            }
            let mut metadata = load_metadata("total_symbols", members.len(), &file_name(&input.name), &checksum);
            metadata.insert("selection_criteria".into(), Value::from(def.selection_criteria.unwrap_or_default()));
            metadata.insert("related_themes".into(), Value::from(def.related_themes));
            if let Some(d) = def.description {
                metadata.insert("summary".into(), Value::from(d));
            }
            out.groups.push(GroupInput {
                kind: GroupKind::Theme,
                name,
                // TickStock keeps a theme's display name in `description`.
                description: def.name,
                metadata,
                members: members.finish(false, &input.name, "members", problems, &mut Vec::new()).0,
                skipped: Vec::new(),
                checksum: checksum.clone(),
            });
        }
    }
    let total: usize = out.groups.iter().map(|g| g.members.len()).sum();
    out.notes.push(format!("{} themes, {total} memberships", out.groups.len()));
    out
}
