//! Sectors: TickStock's snake-case GICS-style keys plus `unknown`, and the one table that maps every vocabulary
//! we meet (GICS names, Yahoo/Morningstar names, TickStock's own SIC-derived names) onto them.

use serde::Serialize;

/// One of TickStock's 12 sector keys.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)] // plain data: the names say what each field or variant holds
pub enum Sector {
    /// Information Technology.
    InformationTechnology,
    /// Health Care.
    HealthCare,
    Financials,
    /// Consumer Discretionary.
    ConsumerDiscretionary,
    /// Communication Services.
    CommunicationServices,
    Industrials,
    /// Consumer Staples.
    ConsumerStaples,
    Energy,
    Utilities,
    /// Real Estate.
    RealEstate,
    Materials,
    /// Not classified.
    Unknown,
}

/// (key, display name, TickStock-style description) for every sector.
const SECTORS: [(Sector, &str, &str, &str); 12] = [
    (
        Sector::InformationTechnology,
        "information_technology",
        "Information Technology",
        "Technology hardware, software, semiconductors and IT services",
    ),
    (
        Sector::HealthCare,
        "health_care",
        "Health Care",
        "Pharmaceuticals, biotechnology, medical devices and health care services",
    ),
    (Sector::Financials, "financials", "Financials", "Banks, insurance, capital markets and financial services"),
    (
        Sector::ConsumerDiscretionary,
        "consumer_discretionary",
        "Consumer Discretionary",
        "Retail, autos, leisure, apparel and other non-essential goods and services",
    ),
    (
        Sector::CommunicationServices,
        "communication_services",
        "Communication Services",
        "Telecommunications, media, entertainment and interactive services",
    ),
    (
        Sector::Industrials,
        "industrials",
        "Industrials",
        "Capital goods, aerospace and defense, transportation and business services",
    ),
    (
        Sector::ConsumerStaples,
        "consumer_staples",
        "Consumer Staples",
        "Food, beverages, household and personal products, and staples retail",
    ),
    (Sector::Energy, "energy", "Energy", "Oil, gas and consumable fuels, and energy equipment and services"),
    (
        Sector::Utilities,
        "utilities",
        "Utilities",
        "Electric, gas, water and multi-utilities and independent power producers",
    ),
    (Sector::RealEstate, "real_estate", "Real Estate", "REITs and real estate management and development"),
    (Sector::Materials, "materials", "Materials", "Chemicals, construction materials, containers, metals and mining"),
    (Sector::Unknown, "unknown", "Unknown", "Unclassified Stocks"),
];

/// Every label we accept, lower-cased, with its sector. GICS sector names, Yahoo/Morningstar names (as in
/// FinanceDatabase), TickStock's SIC-derived `symbols.sector` names, legacy labels, and our own keys.
const ALIASES: &[(&str, Sector)] = &[
    ("information technology", Sector::InformationTechnology),
    ("technology", Sector::InformationTechnology),
    ("information_technology", Sector::InformationTechnology),
    ("tech", Sector::InformationTechnology),
    ("health care", Sector::HealthCare),
    ("healthcare", Sector::HealthCare),
    ("health_care", Sector::HealthCare),
    ("financials", Sector::Financials),
    ("financial services", Sector::Financials),
    ("financial", Sector::Financials),
    ("finance", Sector::Financials),
    ("consumer discretionary", Sector::ConsumerDiscretionary),
    ("consumer cyclical", Sector::ConsumerDiscretionary),
    ("consumer goods", Sector::ConsumerDiscretionary),
    ("consumer_discretionary", Sector::ConsumerDiscretionary),
    ("communication services", Sector::CommunicationServices),
    ("communication_services", Sector::CommunicationServices),
    ("telecommunication services", Sector::CommunicationServices),
    ("telecommunications", Sector::CommunicationServices),
    ("industrials", Sector::Industrials),
    ("industrial goods", Sector::Industrials),
    ("industrial", Sector::Industrials),
    ("consumer staples", Sector::ConsumerStaples),
    ("consumer defensive", Sector::ConsumerStaples),
    ("consumer_staples", Sector::ConsumerStaples),
    ("energy", Sector::Energy),
    ("utilities", Sector::Utilities),
    ("real estate", Sector::RealEstate),
    ("real_estate", Sector::RealEstate),
    ("materials", Sector::Materials),
    ("basic materials", Sector::Materials),
    ("unknown", Sector::Unknown),
    ("unclassified", Sector::Unknown),
    ("n/a", Sector::Unknown),
    ("", Sector::Unknown),
];

impl Sector {
    /// The sector of a US SIC code (4 digits, as Massive's `sic_code`), by the SIC division and major group with
    /// the exceptions where GICS puts an industry elsewhere (pharmaceuticals, computers, motor vehicles, REITs,
    /// software and data services, …). `None` for codes that say nothing about the business (public
    /// administration, non-classifiable) or that do not parse.
    ///
    /// | SIC | sector |
    /// |---|---|
    /// | 01–09 agriculture (08 forestry → materials) | consumer staples |
    /// | 10, 14 mining; 24, 26, 28, 30, 32, 33 materials industries | materials |
    /// | 12 coal, 13 oil and gas, 29 refining, 517x petroleum wholesale | energy |
    /// | 15–17 construction (1520–1531 homebuilders → consumer discretionary), 34, 35, 37, 40–47, 50–51, 73, 81, 87 | industrials |
    /// | 20, 21, 284x, 514x, 54, 5912 | consumer staples |
    /// | 22, 23, 25, 31, 363x, 371x, 387x, 39, 52–59, 70, 72, 75, 79, 82 | consumer discretionary |
    /// | 27, 48, 7311, 78 | communication services |
    /// | 283x, 384x, 385x, 5047, 5122, 80, 83, 8731 | health care |
    /// | 357x, 36, 381x, 382x, 386x, 5045, 737x | information technology |
    /// | 49 (4953 refuse systems → industrials) | utilities |
    /// | 60–64, 67 | financials |
    /// | 65, 6798 | real estate |
    pub fn from_sic(code: &str) -> Option<Sector> {
        use Sector::*;
        let code = code.trim();
        if code.len() != 4 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: u32 = code.parse().ok()?;
        let (major, three) = (n / 100, n / 10);
        Some(match (major, three, n) {
            (_, _, 1520..=1531) => ConsumerDiscretionary,
            (_, _, 4953) => Industrials,
            (_, _, 5045) => InformationTechnology,
            (_, _, 5047 | 5122 | 8731) => HealthCare,
            (_, _, 5912) => ConsumerStaples,
            (_, _, 6798) => RealEstate,
            (_, _, 7311) => CommunicationServices,
            (_, 283, _) | (_, 384 | 385, _) => HealthCare,
            (_, 284, _) | (_, 514, _) => ConsumerStaples,
            (_, 357, _) | (_, 381 | 382 | 386, _) | (_, 737, _) => InformationTechnology,
            (_, 363, _) | (_, 371, _) | (_, 387, _) => ConsumerDiscretionary,
            (_, 517, _) => Energy,
            (8, _, _) => Materials,
            (1..=9, _, _) => ConsumerStaples,
            (10 | 14, _, _) | (24 | 26 | 28 | 30 | 32 | 33, _, _) => Materials,
            (12 | 13 | 29, _, _) => Energy,
            (15..=17, _, _) | (34 | 35 | 37 | 38, _, _) | (40..=47, _, _) | (50 | 51, _, _) => Industrials,
            (73 | 81 | 87, _, _) => Industrials,
            (20 | 21 | 54, _, _) => ConsumerStaples,
            (22 | 23 | 25 | 31 | 39, _, _) | (52..=59, _, _) | (70 | 72 | 75 | 79 | 82, _, _) => ConsumerDiscretionary,
            (27 | 48 | 78, _, _) => CommunicationServices,
            (36, _, _) => InformationTechnology,
            (80 | 83, _, _) => HealthCare,
            (49, _, _) => Utilities,
            (60..=64 | 67, _, _) => Financials,
            (65, _, _) => RealEstate,
            _ => return None,
        })
    }

    /// Every sector, `unknown` last.
    pub fn all() -> impl Iterator<Item = Sector> {
        SECTORS.iter().map(|s| s.0)
    }

    fn row(self) -> &'static (Sector, &'static str, &'static str, &'static str) {
        SECTORS.iter().find(|s| s.0 == self).expect("every sector has a row")
    }

    /// TickStock's group name (`information_technology`).
    pub fn key(self) -> &'static str {
        self.row().1
    }

    /// The spelling of TickStock's sector-leader keys (`top_10_technology`, `top_10_healthcare`,
    /// `top_10_financial_services`; the other sectors as their group name), from its synchroniser's vocabulary.
    pub fn leader_key(self) -> &'static str {
        match self {
            Sector::InformationTechnology => "technology",
            Sector::HealthCare => "healthcare",
            Sector::Financials => "financial_services",
            other => other.key(),
        }
    }

    /// Display name (`Information Technology`).
    pub fn display_name(self) -> &'static str {
        self.row().2
    }

    /// The description TickStock keeps on the SECTOR group.
    pub fn description(self) -> &'static str {
        self.row().3
    }

    /// Maps a label from any known vocabulary (case-insensitive, `&` read as `and`). `None` when unknown to us:
    /// the caller reports it rather than guessing.
    pub fn from_label(label: &str) -> Option<Sector> {
        let l = label.trim().to_ascii_lowercase().replace('&', "and");
        ALIASES.iter().find(|(a, _)| *a == l).map(|(_, s)| *s)
    }

    /// Looks up a stored group name (`information_technology`).
    pub fn from_key(key: &str) -> Option<Sector> {
        SECTORS.iter().find(|s| s.1 == key).map(|s| s.0)
    }
}

/// A label folded for loose matching: lower case, without spaces, `_`, `-` or `&` ("Health Care", "health_care"
/// and "healthcare" compare equal; "Oil, Gas & Consumable Fuels" contains "gas").
pub fn fold(label: &str) -> String {
    label.chars().filter(|c| !matches!(c, ' ' | '_' | '-' | '&')).flat_map(char::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabularies_map_to_keys() {
        assert_eq!(Sector::from_label("Information Technology"), Some(Sector::InformationTechnology));
        assert_eq!(Sector::from_label("Technology"), Some(Sector::InformationTechnology));
        assert_eq!(Sector::from_label("Consumer Cyclical"), Some(Sector::ConsumerDiscretionary));
        assert_eq!(Sector::from_label("Consumer Defensive"), Some(Sector::ConsumerStaples));
        assert_eq!(Sector::from_label("Basic Materials"), Some(Sector::Materials));
        // SIC codes of well-known companies.
        for (sic, sector) in [
            ("3571", Sector::InformationTechnology), // Apple: electronic computers
            ("7372", Sector::InformationTechnology), // Microsoft: prepackaged software
            ("2834", Sector::HealthCare),            // Pfizer: pharmaceutical preparations
            ("6021", Sector::Financials),            // JPMorgan: national commercial banks
            ("2911", Sector::Energy),                // Exxon: petroleum refining
            ("3711", Sector::ConsumerDiscretionary), // Tesla: motor vehicles
            ("5331", Sector::ConsumerDiscretionary), // Walmart: variety stores
            ("2080", Sector::ConsumerStaples),       // Coca-Cola: beverages
            ("4911", Sector::Utilities),             // Duke: electric services
            ("6798", Sector::RealEstate),            // REITs
            ("4813", Sector::CommunicationServices), // Verizon: telephone communications
            ("3721", Sector::Industrials),           // Boeing: aircraft
            ("2821", Sector::Materials),             // Dow: plastics materials
        ] {
            assert_eq!(Sector::from_sic(sic), Some(sector), "{sic}");
        }
        assert_eq!(Sector::from_sic("9995"), None);
        assert_eq!(Sector::from_sic("abc"), None);
        assert_eq!(Sector::from_label("Financial Services"), Some(Sector::Financials));
        assert_eq!(Sector::from_label(" health care "), Some(Sector::HealthCare));
        assert_eq!(Sector::from_label(""), Some(Sector::Unknown));
        assert_eq!(Sector::from_label("Widgets"), None);
        for s in Sector::all() {
            assert_eq!(Sector::from_label(s.key()), Some(s));
            assert_eq!(Sector::from_label(s.display_name()), Some(s));
            assert_eq!(Sector::from_key(s.key()), Some(s));
        }
    }
}
