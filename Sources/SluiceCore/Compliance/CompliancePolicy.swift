import Foundation

/// The result of one compliance rule, ordered compliant < warn < noncompliant.
public enum ComplianceOutcome: String, Codable, Sendable, Hashable, CaseIterable, Comparable {
    case compliant
    case warn
    case noncompliant

    private var rank: Int {
        switch self {
        case .compliant: 0
        case .warn: 1
        case .noncompliant: 2
        }
    }

    public static func < (lhs: ComplianceOutcome, rhs: ComplianceOutcome) -> Bool { lhs.rank < rhs.rank }
}

/// From which severity on a rule fires: `low`, `medium`, `high`, `critical`, or `never`.
public enum SeverityThreshold: String, Codable, Sendable, Hashable, CaseIterable {
    case low
    case medium
    case high
    case critical
    case never

    /// Whether `level` is at or above the threshold (`none` never is).
    public func includes(_ level: SeverityLevel) -> Bool {
        switch self {
        case .never: false
        case .low: level >= .low
        case .medium: level >= .medium
        case .high: level >= .high
        case .critical: level >= .critical
        }
    }
}

/// A compliance policy: the global one, or a feed's, which refines the global one.
///
/// Every field is optional so that a feed's policy says only what differs. How a feed's policy combines with the
/// global one (``resolved(global:feed:)``):
/// - thresholds and outcomes: the feed's value when set, else the global value, else the default;
/// - `allowedLicenses`: the feed's list replaces the global one when set (an empty list means "no allow list"),
///   else the global list applies;
/// - `blockedLicenses`: the union of both lists (a feed cannot unblock what the global policy blocks; an exception
///   can cover a package instead).
///
/// Defaults (``ResolvedCompliancePolicy/default``): noncompliant at `high`, warn at `medium`, an advisory without any
/// severity warns, no allow list, no block list, a licence outside the allow list is noncompliant, an unknown or
/// missing licence warns.
public struct CompliancePolicy: Codable, Sendable, Hashable {
    /// Advisories at or above this severity make a package noncompliant.
    public var vulnerabilityNoncompliantAt: SeverityThreshold?
    /// Advisories at or above this severity (and below the noncompliant one) make it warn.
    public var vulnerabilityWarnAt: SeverityThreshold?
    /// The outcome of an advisory that carries no severity at all.
    public var unknownSeverityOutcome: ComplianceOutcome?
    /// SPDX ids allowed (compared case-insensitively); nil inherits, empty means no allow list.
    public var allowedLicenses: [String]?
    /// SPDX ids blocked (compared case-insensitively): always noncompliant.
    public var blockedLicenses: [String]?
    /// The outcome of a licence that is not on the allow list.
    public var notAllowedLicenseOutcome: ComplianceOutcome?
    /// The outcome of a missing licence or one that could not be recognised.
    public var unknownLicenseOutcome: ComplianceOutcome?

    /// Creates a policy; every omitted field inherits.
    public init(
        vulnerabilityNoncompliantAt: SeverityThreshold? = nil, vulnerabilityWarnAt: SeverityThreshold? = nil,
        unknownSeverityOutcome: ComplianceOutcome? = nil, allowedLicenses: [String]? = nil,
        blockedLicenses: [String]? = nil, notAllowedLicenseOutcome: ComplianceOutcome? = nil,
        unknownLicenseOutcome: ComplianceOutcome? = nil
    ) {
        self.vulnerabilityNoncompliantAt = vulnerabilityNoncompliantAt
        self.vulnerabilityWarnAt = vulnerabilityWarnAt
        self.unknownSeverityOutcome = unknownSeverityOutcome
        self.allowedLicenses = allowedLicenses
        self.blockedLicenses = blockedLicenses
        self.notAllowedLicenseOutcome = notAllowedLicenseOutcome
        self.unknownLicenseOutcome = unknownLicenseOutcome
    }

    /// The policy that applies to a feed: `feed` refining `global` (see the type's documentation).
    public static func resolved(global: CompliancePolicy?, feed: CompliancePolicy?) -> ResolvedCompliancePolicy {
        let defaults = ResolvedCompliancePolicy.default
        let global = global ?? CompliancePolicy()
        let feed = feed ?? CompliancePolicy()
        let allowed = feed.allowedLicenses ?? global.allowedLicenses ?? []
        var blocked: [String] = []
        for id in (global.blockedLicenses ?? []) + (feed.blockedLicenses ?? [])
        where !blocked.contains(where: { $0.caseInsensitiveCompare(id) == .orderedSame }) {
            blocked.append(id)
        }
        return ResolvedCompliancePolicy(
            vulnerabilityNoncompliantAt: feed.vulnerabilityNoncompliantAt ?? global.vulnerabilityNoncompliantAt
                ?? defaults.vulnerabilityNoncompliantAt,
            vulnerabilityWarnAt: feed.vulnerabilityWarnAt ?? global.vulnerabilityWarnAt ?? defaults.vulnerabilityWarnAt,
            unknownSeverityOutcome: feed.unknownSeverityOutcome ?? global.unknownSeverityOutcome
                ?? defaults.unknownSeverityOutcome,
            allowedLicenses: allowed.isEmpty ? nil : allowed,
            blockedLicenses: blocked,
            notAllowedLicenseOutcome: feed.notAllowedLicenseOutcome ?? global.notAllowedLicenseOutcome
                ?? defaults.notAllowedLicenseOutcome,
            unknownLicenseOutcome: feed.unknownLicenseOutcome ?? global.unknownLicenseOutcome
                ?? defaults.unknownLicenseOutcome)
    }
}

/// A policy with every rule decided: what the evaluator applies.
public struct ResolvedCompliancePolicy: Codable, Sendable, Hashable {
    public var vulnerabilityNoncompliantAt: SeverityThreshold
    public var vulnerabilityWarnAt: SeverityThreshold
    public var unknownSeverityOutcome: ComplianceOutcome
    /// nil when there is no allow list.
    public var allowedLicenses: [String]?
    public var blockedLicenses: [String]
    public var notAllowedLicenseOutcome: ComplianceOutcome
    public var unknownLicenseOutcome: ComplianceOutcome

    /// Creates a resolved policy.
    public init(
        vulnerabilityNoncompliantAt: SeverityThreshold, vulnerabilityWarnAt: SeverityThreshold,
        unknownSeverityOutcome: ComplianceOutcome, allowedLicenses: [String]?, blockedLicenses: [String],
        notAllowedLicenseOutcome: ComplianceOutcome, unknownLicenseOutcome: ComplianceOutcome
    ) {
        self.vulnerabilityNoncompliantAt = vulnerabilityNoncompliantAt
        self.vulnerabilityWarnAt = vulnerabilityWarnAt
        self.unknownSeverityOutcome = unknownSeverityOutcome
        self.allowedLicenses = allowedLicenses
        self.blockedLicenses = blockedLicenses
        self.notAllowedLicenseOutcome = notAllowedLicenseOutcome
        self.unknownLicenseOutcome = unknownLicenseOutcome
    }

    /// The defaults used where neither the feed nor the global policy says anything.
    public static let `default` = ResolvedCompliancePolicy(
        vulnerabilityNoncompliantAt: .high, vulnerabilityWarnAt: .medium, unknownSeverityOutcome: .warn,
        allowedLicenses: nil, blockedLicenses: [], notAllowedLicenseOutcome: .noncompliant,
        unknownLicenseOutcome: .warn)

    /// Whether the licence rule can make any record noncompliant (so a blocking view must normalise licences).
    public var licenseRuleCanBlock: Bool {
        !blockedLicenses.isEmpty || (allowedLicenses != nil && notAllowedLicenseOutcome == .noncompliant)
            || unknownLicenseOutcome == .noncompliant
    }

    /// The outcome of an advisory of `level` (nil: the advisory has no severity).
    public func outcome(forSeverity level: SeverityLevel?) -> ComplianceOutcome {
        guard let level else { return unknownSeverityOutcome }
        if vulnerabilityNoncompliantAt.includes(level) { return .noncompliant }
        if vulnerabilityWarnAt.includes(level) { return .warn }
        return .compliant
    }
}

/// An exception: packages (by name pattern and version range) that are compliant whatever the rules say, for a
/// reason, optionally until a date, on one feed or on every feed.
public struct ComplianceException: Codable, Sendable, Hashable, Identifiable {
    /// Assigned by the store (0 before it is stored).
    public var id: Int64
    /// The feed it applies to; nil for every feed.
    public var feed: String?
    /// A glob over the package name (`*` any run, `?` one character; case-insensitive): `flask`, `py*`, `*`.
    public var packagePattern: String
    /// A conda version spec (`<0.12.3`, `0.11.*`, `>=1,<2`); nil for every version.
    public var versionSpec: String?
    /// Why it was granted (shown in verdicts and the 403 body).
    public var reason: String
    /// When it stops applying; nil for never.
    public var expiresAt: Date?
    public var createdAt: Date
    /// Who granted it.
    public var createdBy: String?

    /// Creates an exception.
    public init(
        id: Int64 = 0, feed: String? = nil, packagePattern: String, versionSpec: String? = nil, reason: String,
        expiresAt: Date? = nil, createdAt: Date = Date(), createdBy: String? = nil
    ) {
        self.id = id
        self.feed = feed
        self.packagePattern = packagePattern
        self.versionSpec = versionSpec
        self.reason = reason
        self.expiresAt = expiresAt
        self.createdAt = createdAt
        self.createdBy = createdBy
    }

    /// Checks the pattern and version spec.
    /// - Throws: `SluiceError.invalidInput` when the pattern is empty or the version spec does not parse.
    public func validate() throws(SluiceError) {
        guard !packagePattern.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw .invalidInput("An exception needs a package name pattern (for example 'flask' or 'py*').")
        }
        if let versionSpec, !versionSpec.trimmingCharacters(in: .whitespaces).isEmpty {
            _ = try VersionSpec(versionSpec)
        }
    }

    /// Whether it covers package `name` at `version` on `feed` at `now` (an expired exception covers nothing; an
    /// unparsable version spec covers nothing).
    public func covers(name: String, version: String, feed: String?, now: Date) -> Bool {
        if let expiresAt, expiresAt <= now { return false }
        if let scope = self.feed, scope != feed { return false }
        guard Glob.matches(pattern: packagePattern.lowercased(), text: name.lowercased()) else { return false }
        guard let versionSpec, !versionSpec.trimmingCharacters(in: .whitespaces).isEmpty else { return true }
        guard let spec = try? VersionSpec(versionSpec) else { return false }
        return spec.matches(version)
    }
}

/// `*` and `?` globbing without backtracking blow-up.
enum Glob {
    static func matches(pattern: String, text: String) -> Bool {
        let pattern = Array(pattern)
        let text = Array(text)
        var p = 0
        var t = 0
        var star: Int?
        var resume = 0
        while t < text.count {
            if p < pattern.count, pattern[p] == "?" || pattern[p] == text[t] {
                p += 1
                t += 1
            } else if p < pattern.count, pattern[p] == "*" {
                star = p
                resume = t
                p += 1
            } else if let star {
                p = star + 1
                resume += 1
                t = resume
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == "*" { p += 1 }
        return p == pattern.count
    }
}
