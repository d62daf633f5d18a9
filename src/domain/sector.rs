//! Sectors: TickStock's snake-case GICS-style keys plus `unknown`, and the one table that maps every vocabulary
//! we meet (GICS names, Yahoo/Morningstar names, TickStock's own SIC-derived names) onto them.

use serde::Serialize;

/// One of TickStock's 12 sector keys.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sector {
    /// Information Technology.
    InformationTechnology,
    /// Health Care.
    HealthCare,
    /// Financials.
    Financials,
    /// Consumer Discretionary.
    ConsumerDiscretionary,
    /// Communication Services.
    CommunicationServices,
    /// Industrials.
    Industrials,
    /// Consumer Staples.
    ConsumerStaples,
    /// Energy.
    Energy,
    /// Utilities.
    Utilities,
    /// Real Estate.
    RealEstate,
    /// Materials.
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
