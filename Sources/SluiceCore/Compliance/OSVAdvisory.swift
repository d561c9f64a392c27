import Foundation

/// One vulnerability advisory in the OSV format (https://ossf.github.io/osv-schema/), reduced to what compliance needs.
///
/// Parse one with ``OSVAdvisory/parse(_:)`` or load files, directories and zips with ``OSVImport``. Encodes to (and
/// decodes from) the OSV field names, so a stored advisory round-trips as OSV JSON.
public struct OSVAdvisory: Codable, Sendable, Hashable, Identifiable {
    /// The advisory's id (`GHSA-…`, `PYSEC-…`, `CVE-…`, …).
    public var id: String
    /// Other ids of the same vulnerability (usually the CVE).
    public var aliases: [String]
    /// One line, may be empty.
    public var summary: String
    /// Longer text (Markdown), may be empty.
    public var details: String
    /// Scored severities (CVSS vectors).
    public var severity: [OSVSeverity]
    /// The packages and versions it affects.
    public var affected: [OSVAffected]
    /// When the advisory was last changed.
    public var modified: Date?
    /// When it was first published.
    public var published: Date?
    /// When it was withdrawn; a withdrawn advisory never matches.
    public var withdrawn: Date?
    /// `database_specific.severity` when present (GitHub: `LOW`, `MODERATE`, `HIGH`, `CRITICAL`).
    public var databaseSeverity: String?
    /// Reference URLs.
    public var references: [OSVReference]

    /// Creates an advisory.
    public init(
        id: String, aliases: [String] = [], summary: String = "", details: String = "",
        severity: [OSVSeverity] = [], affected: [OSVAffected] = [], modified: Date? = nil, published: Date? = nil,
        withdrawn: Date? = nil, databaseSeverity: String? = nil, references: [OSVReference] = []
    ) {
        self.id = id
        self.aliases = aliases
        self.summary = summary
        self.details = details
        self.severity = severity
        self.affected = affected
        self.modified = modified
        self.published = published
        self.withdrawn = withdrawn
        self.databaseSeverity = databaseSeverity
        self.references = references
    }

    /// The id followed by the aliases.
    public var allIDs: [String] { [id] + aliases.filter { $0 != id } }

    /// The highest CVSS v3 base score among ``severity`` (nil when no v3 vector is present or parsable).
    public var cvssScore: Double? {
        severity.compactMap(\.baseScore).max()
    }

    /// The severity level: from the CVSS v3 score when there is one, else from ``databaseSeverity`` or the
    /// `severity` of an affected entry's `database_specific`/`ecosystem_specific`; nil when unknown.
    public var severityLevel: SeverityLevel? {
        if let score = cvssScore { return SeverityLevel(score: score) }
        if let text = databaseSeverity, let level = SeverityLevel(text: text) { return level }
        return affected.compactMap { $0.databaseSeverity.flatMap(SeverityLevel.init(text:)) }.max()
    }

    enum CodingKeys: String, CodingKey {
        case id, aliases, summary, details, severity, affected, modified, published, withdrawn, references
        case databaseSpecific = "database_specific"
    }

    struct DatabaseSpecific: Codable {
        var severity: String?
    }

    /// Decodes the OSV shape (missing arrays and strings become empty).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        aliases = try container.decodeIfPresent([String].self, forKey: .aliases) ?? []
        summary = try container.decodeIfPresent(String.self, forKey: .summary) ?? ""
        details = try container.decodeIfPresent(String.self, forKey: .details) ?? ""
        severity = try container.decodeIfPresent([OSVSeverity].self, forKey: .severity) ?? []
        affected = try container.decodeIfPresent([OSVAffected].self, forKey: .affected) ?? []
        modified = try container.decodeIfPresent(String.self, forKey: .modified).flatMap(OSVDates.parse)
        published = try container.decodeIfPresent(String.self, forKey: .published).flatMap(OSVDates.parse)
        withdrawn = try container.decodeIfPresent(String.self, forKey: .withdrawn).flatMap(OSVDates.parse)
        databaseSeverity =
            (try? container.decodeIfPresent(DatabaseSpecific.self, forKey: .databaseSpecific))?
            .severity
        references = try container.decodeIfPresent([OSVReference].self, forKey: .references) ?? []
    }

    /// Encodes the OSV shape (dates as RFC 3339 in UTC).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(aliases, forKey: .aliases)
        try container.encode(summary, forKey: .summary)
        try container.encode(details, forKey: .details)
        try container.encode(severity, forKey: .severity)
        try container.encode(affected, forKey: .affected)
        try container.encodeIfPresent(modified.map(OSVDates.format), forKey: .modified)
        try container.encodeIfPresent(published.map(OSVDates.format), forKey: .published)
        try container.encodeIfPresent(withdrawn.map(OSVDates.format), forKey: .withdrawn)
        if let databaseSeverity {
            try container.encode(DatabaseSpecific(severity: databaseSeverity), forKey: .databaseSpecific)
        }
        try container.encode(references, forKey: .references)
    }
}

/// One `severity` entry: a scoring system and its vector.
public struct OSVSeverity: Codable, Sendable, Hashable {
    /// `CVSS_V2`, `CVSS_V3`, `CVSS_V4`, `Ubuntu`, …
    public var type: String
    /// The vector (for CVSS) or the text.
    public var score: String

    /// Creates a severity entry.
    public init(type: String, score: String) {
        self.type = type
        self.score = score
    }

    /// The CVSS v3.x base score computed from the vector, nil for other systems or an unparsable vector.
    public var baseScore: Double? {
        guard type.uppercased() == "CVSS_V3" || score.hasPrefix("CVSS:3.") else { return nil }
        return try? CVSS3.baseScore(vector: score)
    }
}

/// A reference link of an advisory.
public struct OSVReference: Codable, Sendable, Hashable {
    /// `ADVISORY`, `WEB`, `FIX`, `PACKAGE`, `REPORT`, …
    public var type: String
    public var url: String

    /// Creates a reference.
    public init(type: String, url: String) {
        self.type = type
        self.url = url
    }
}

/// One `affected` entry: a package, the version ranges and the explicit versions it covers.
public struct OSVAffected: Codable, Sendable, Hashable {
    /// The ecosystem as written (`PyPI`, `conda-forge`, `npm`, `Ubuntu:22.04`, …).
    public var ecosystem: String
    /// The package name as written in that ecosystem.
    public var name: String
    public var ranges: [OSVRange]
    /// Explicitly listed affected versions.
    public var versions: [String]
    /// `database_specific.severity` or `ecosystem_specific.severity` of this entry, when present.
    public var databaseSeverity: String?

    /// Creates an affected entry.
    public init(
        ecosystem: String, name: String, ranges: [OSVRange] = [], versions: [String] = [],
        databaseSeverity: String? = nil
    ) {
        self.ecosystem = ecosystem
        self.name = name
        self.ranges = ranges
        self.versions = versions
        self.databaseSeverity = databaseSeverity
    }

    enum CodingKeys: String, CodingKey {
        case package, ranges, versions
        case databaseSpecific = "database_specific"
        case ecosystemSpecific = "ecosystem_specific"
    }

    struct Package: Codable {
        var ecosystem: String
        var name: String
    }

    /// Decodes the OSV shape.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let package = try container.decodeIfPresent(Package.self, forKey: .package)
        ecosystem = package?.ecosystem ?? ""
        name = package?.name ?? ""
        ranges = try container.decodeIfPresent([OSVRange].self, forKey: .ranges) ?? []
        versions = try container.decodeIfPresent([String].self, forKey: .versions) ?? []
        let database = try? container.decodeIfPresent(OSVAdvisory.DatabaseSpecific.self, forKey: .databaseSpecific)
        let ecosystemSpecific = try? container.decodeIfPresent(
            OSVAdvisory.DatabaseSpecific.self, forKey: .ecosystemSpecific)
        databaseSeverity = database?.severity ?? ecosystemSpecific?.severity
    }

    /// Encodes the OSV shape.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Package(ecosystem: ecosystem, name: name), forKey: .package)
        try container.encode(ranges, forKey: .ranges)
        try container.encode(versions, forKey: .versions)
        if let databaseSeverity {
            try container.encode(OSVAdvisory.DatabaseSpecific(severity: databaseSeverity), forKey: .databaseSpecific)
        }
    }

    /// The versions that fix it: every `fixed` event of its ranges, in order of appearance.
    public var fixedVersions: [String] {
        ranges.flatMap { range in range.events.compactMap { event in event.kind == .fixed ? event.version : nil } }
    }
}

/// A version range: a type and its events.
public struct OSVRange: Codable, Sendable, Hashable {
    /// `ECOSYSTEM`, `SEMVER` or `GIT` (git ranges are kept but never evaluated).
    public var type: String
    public var events: [OSVEvent]

    /// Creates a range.
    public init(type: String, events: [OSVEvent]) {
        self.type = type
        self.events = events
    }

    enum CodingKeys: String, CodingKey {
        case type, events
    }
}

/// One event of a range: the version at which the vulnerability was introduced, fixed, last affected, or a limit.
public struct OSVEvent: Codable, Sendable, Hashable {
    /// What happens at ``version``.
    public enum Kind: String, Codable, Sendable, Hashable, CaseIterable {
        case introduced
        case fixed
        case lastAffected = "last_affected"
        case limit
    }

    public var kind: Kind
    public var version: String

    /// Creates an event.
    public init(_ kind: Kind, _ version: String) {
        self.kind = kind
        self.version = version
    }

    /// Decodes `{"introduced": "0"}` and friends (the first known key wins).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Kind.self)
        for kind in Kind.allCases {
            if let version = try container.decodeIfPresent(String.self, forKey: kind) {
                self.kind = kind
                self.version = version
                return
            }
        }
        throw DecodingError.dataCorrupted(
            DecodingError.Context(
                codingPath: decoder.codingPath,
                debugDescription: "An OSV range event needs introduced, fixed, last_affected or limit."))
    }

    /// Encodes `{"<kind>": "<version>"}`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Kind.self)
        try container.encode(version, forKey: kind)
    }
}

extension OSVEvent.Kind: CodingKey {}

/// A qualitative severity, ordered none < low < medium < high < critical (the CVSS v3 rating scale).
public enum SeverityLevel: String, Codable, Sendable, Hashable, CaseIterable, Comparable {
    case none
    case low
    case medium
    case high
    case critical

    /// The rating of a CVSS v3 base score: 0 none, 0.1–3.9 low, 4.0–6.9 medium, 7.0–8.9 high, 9.0–10.0 critical.
    public init(score: Double) {
        switch score {
        case ..<0.1: self = .none
        case ..<4.0: self = .low
        case ..<7.0: self = .medium
        case ..<9.0: self = .high
        default: self = .critical
        }
    }

    /// Reads a database's word for it (`LOW`, `MODERATE`/`MEDIUM`, `HIGH`, `CRITICAL`, `NONE`), case-insensitively.
    public init?(text: String) {
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "none": self = .none
        case "low": self = .low
        case "moderate", "medium": self = .medium
        case "high", "important": self = .high
        case "critical": self = .critical
        default: return nil
        }
    }

    private var rank: Int {
        switch self {
        case .none: 0
        case .low: 1
        case .medium: 2
        case .high: 3
        case .critical: 4
        }
    }

    public static func < (lhs: SeverityLevel, rhs: SeverityLevel) -> Bool { lhs.rank < rhs.rank }
}

/// RFC 3339 timestamps as OSV writes them (with or without fractional seconds).
enum OSVDates {
    static func parse(_ text: String) -> Date? {
        let plain = ISO8601DateFormatter()
        if let date = plain.date(from: text) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = fractional.date(from: text) { return date }
        // Microseconds or nanoseconds: keep the milliseconds the formatter understands.
        guard let dot = text.firstIndex(of: ".") else { return nil }
        let digits = text[text.index(after: dot)...].prefix(while: \.isNumber)
        let rest = text[digits.endIndex...]
        return fractional.date(from: String(text[..<dot]) + "." + String(digits.prefix(3)) + rest)
    }

    static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
