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
use crate::store::SymbolRow;
use crate::sync::themes::ThemeRule;

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
    #[serde(default)]
    members: Vec<Spanned<String>>,
    /// Members computed from the symbols (and again by every daily sync) instead of, or besides, `members`.
    #[serde(default)]
    rule: Option<Spanned<ThemeRule>>,
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
            let rule_line = def.rule.as_ref().map(|r| line_of(text, r.span().start));
            if let (Some(rule), Some(line)) = (&def.rule, rule_line)
                && let Some(why) = rule.get_ref().problem()
            {
                problems.push(Problem::at(&input.name, line, Some("rule"), why));
                continue;
            }
            if members.is_empty() && def.rule.is_none() {
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
            if let Some(rule) = &def.rule {
                // The rule travels with the group: the daily sync re-evaluates it; `members` are kept as includes.
                let mut rule = rule.get_ref().clone();
                rule.include.extend(
                    def.members.iter().filter_map(|m| Ticker::parse(m.get_ref()).ok()).map(|t| t.as_str().to_string()),
                );
                rule.include.sort();
                rule.include.dedup();
                metadata.insert("rule".into(), serde_json::to_value(&rule).unwrap_or_default());
                // Where the rule is, for a problem found when it is resolved (removed then).
                metadata.insert("rule_line".into(), Value::from(rule_line.unwrap_or(1)));
                metadata.insert("rule_file".into(), Value::from(input.name.as_str()));
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

/// Whether any parsed theme has a rule (its members need the stored symbols).
pub fn has_rules(parsed: &Parsed) -> bool {
    parsed.groups.iter().any(|g| g.metadata.contains_key("rule"))
}

/// Fills the members of rule-based themes from the symbols; a rule that selects nothing is a problem (on the
/// rule's line), as an empty `members` list is.
pub fn resolve_rules(parsed: &mut Parsed, symbols: &HashMap<String, SymbolRow>, problems: &mut Vec<Problem>) {
    parsed.groups.retain_mut(|g| {
        let Some(rule) = g.metadata.get("rule").and_then(|r| serde_json::from_value::<ThemeRule>(r.clone()).ok())
        else {
            return true;
        };
        let line = g.metadata.remove("rule_line").and_then(|l| l.as_u64()).unwrap_or(1);
        let file = g.metadata.remove("rule_file").and_then(|f| f.as_str().map(str::to_string)).unwrap_or_default();
        g.members.clear();
        for symbol in rule.members(symbols) {
            if let Ok(t) = Ticker::parse(&symbol) {
                g.members.insert(t, super::parsed::MemberInput { weight: None, metadata: None });
            }
        }
        g.metadata.insert("total_symbols".into(), Value::from(g.members.len()));
        if g.members.is_empty() {
            problems.push(Problem::at(
                &file,
                line,
                Some("rule"),
                format!("theme {}: the rule selects no stored active symbol (load symbols and sectors first)", g.name),
            ));
            return false;
        }
        true
    });
}
