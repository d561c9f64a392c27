import Foundation

/// One vulnerability that applies to a package: advisories that are aliases of each other (a GHSA and the PYSEC of
/// the same CVE) are reported once, with the highest severity any of them gives.
public struct VulnerabilityFinding: Codable, Sendable, Hashable {
    /// The ids of the advisories of this vulnerability (the first one is the one shown).
    public var advisoryIDs: [String]
    /// Every alias of those advisories (CVE ids and the like) not already in ``advisoryIDs``.
    public var aliases: [String]
    public var summary: String
    /// nil when no advisory gives a severity.
    public var severity: SeverityLevel?
    /// The highest CVSS v3 base score, when a vector is present.
    public var cvssScore: Double?
    /// The fixed versions named by the matched entries.
    public var fixedVersions: [String]
    /// How the advisories were matched to the conda package.
    public var matchReasons: [AdvisoryMatchReason]

    /// Creates a finding.
    public init(
        advisoryIDs: [String], aliases: [String], summary: String, severity: SeverityLevel?, cvssScore: Double?,
        fixedVersions: [String], matchReasons: [AdvisoryMatchReason]
    ) {
        self.advisoryIDs = advisoryIDs
        self.aliases = aliases
        self.summary = summary
        self.severity = severity
        self.cvssScore = cvssScore
        self.fixedVersions = fixedVersions
        self.matchReasons = matchReasons
    }
}

/// Which rule produced a ``ComplianceRuleResult``.
public enum ComplianceRule: String, Codable, Sendable, Hashable {
    /// The vulnerability severity thresholds (one result per vulnerability, or one compliant result when none).
    case vulnerability
    /// The licence allow list, block list and unknown-licence rule (one result).
    case license
}

/// The result of one rule for one package.
public struct ComplianceRuleResult: Codable, Sendable, Hashable {
    public var rule: ComplianceRule
    public var outcome: ComplianceOutcome
    /// A sentence saying why (which advisory or which licence rule).
    public var reason: String
    /// For vulnerability results, the advisory ids concerned.
    public var advisoryIDs: [String]

    /// Creates a result.
    public init(rule: ComplianceRule, outcome: ComplianceOutcome, reason: String, advisoryIDs: [String] = []) {
        self.rule = rule
        self.outcome = outcome
        self.reason = reason
        self.advisoryIDs = advisoryIDs
    }
}

/// The compliance of one package file under one feed's policy at one moment.
public struct ComplianceVerdict: Codable, Sendable, Hashable {
    public var filename: String
    public var subdir: String
    public var name: String
    public var version: String
    /// The worst rule outcome, before exceptions.
    public var outcome: ComplianceOutcome
    /// The exception that covers the package when ``outcome`` is not compliant.
    public var exception: ComplianceException?
    /// ``outcome``, or compliant when an exception covers it.
    public var effectiveOutcome: ComplianceOutcome
    /// Every rule's result, vulnerabilities first.
    public var results: [ComplianceRuleResult]
    public var vulnerabilities: [VulnerabilityFinding]
    public var license: NormalizedLicense

    /// Whether a blocking feed hides the file from repodata and refuses its download.
    public var blocks: Bool { effectiveOutcome == .noncompliant }

    /// The reasons of the rules that are not compliant.
    public var reasons: [String] {
        results.filter { $0.outcome != .compliant }.map(\.reason)
    }
}

/// Evaluates a package against a policy: pure, so the same inputs always give the same verdict.
public enum ComplianceEvaluator {
    /// The verdict for `record` (of `subdir`) on `feed` (nil: outside any feed, so only global exceptions apply).
    ///
    /// - Parameters:
    ///   - matches: the advisories that apply to the record (``AdvisoryIndex/matches(for:)``).
    ///   - license: the record's normalised licence, when the caller has it cached; nil normalises the record's.
    public static func evaluate(
        record: PackageRecord, subdir: String, feed: String?, matches: [AdvisoryMatch],
        policy: ResolvedCompliancePolicy, exceptions: [ComplianceException], now: Date,
        license: NormalizedLicense? = nil
    ) -> ComplianceVerdict {
        let findings = findings(from: matches)
        var results: [ComplianceRuleResult] = []
        if findings.isEmpty {
            results.append(
                ComplianceRuleResult(rule: .vulnerability, outcome: .compliant, reason: "No known vulnerabilities."))
        }
        for finding in findings {
            results.append(vulnerabilityResult(finding, record: record, policy: policy))
        }
        let license = license ?? LicenseNormalizer.normalize(record)
        results.append(licenseResult(license, policy: policy))
        let outcome = results.map(\.outcome).max() ?? .compliant
        var exception: ComplianceException?
        if outcome != .compliant {
            exception = exceptions.first {
                $0.covers(name: record.name, version: record.version, feed: feed, now: now)
            }
        }
        return ComplianceVerdict(
            filename: record.filename, subdir: subdir, name: record.name, version: record.version, outcome: outcome,
            exception: exception, effectiveOutcome: exception == nil ? outcome : .compliant, results: results,
            vulnerabilities: findings, license: license)
    }

    /// Groups matches whose ids or aliases overlap into one finding each, in order of first appearance.
    public static func findings(from matches: [AdvisoryMatch]) -> [VulnerabilityFinding] {
        // Union-find over the matches, joined by any shared id or alias.
        var parent = Array(matches.indices)
        func root(_ index: Int) -> Int {
            var index = index
            while parent[index] != index {
                parent[index] = parent[parent[index]]
                index = parent[index]
            }
            return index
        }
        var ownerByID: [String: Int] = [:]
        for (index, match) in matches.enumerated() {
            for id in match.advisory.allIDs {
                if let owner = ownerByID[id] {
                    let a = root(owner)
                    let b = root(index)
                    if a != b { parent[max(a, b)] = min(a, b) }
                } else {
                    ownerByID[id] = index
                }
            }
        }
        var groups: [Int: [AdvisoryMatch]] = [:]
        var order: [Int] = []
        for (index, match) in matches.enumerated() {
            let group = root(index)
            if groups[group] == nil { order.append(group) }
            groups[group, default: []].append(match)
        }
        return order.map { group in
            let members = groups[group] ?? []
            // Show the advisory with a severity first (the GHSA usually), else the first.
            let shown = members.sorted {
                ($0.advisory.severityLevel != nil ? 0 : 1) < ($1.advisory.severityLevel != nil ? 0 : 1)
            }
            let ids = unique(shown.map(\.advisory.id))
            let aliases = unique(members.flatMap(\.advisory.aliases)).filter { !ids.contains($0) }
            return VulnerabilityFinding(
                advisoryIDs: ids, aliases: aliases,
                summary: shown.map(\.advisory.summary).first { !$0.isEmpty } ?? shown.map(\.advisory.details)
                    .first { !$0.isEmpty }.map { String($0.prefix(200)) } ?? "",
                severity: members.compactMap(\.advisory.severityLevel).max(),
                cvssScore: members.compactMap(\.advisory.cvssScore).max(),
                fixedVersions: unique(members.flatMap(\.fixedVersions)),
                matchReasons: unique(members.map(\.reason)))
        }
    }

    private static func unique<T: Hashable>(_ values: [T]) -> [T] {
        var seen = Set<T>()
        return values.filter { seen.insert($0).inserted }
    }

    private static func vulnerabilityResult(
        _ finding: VulnerabilityFinding, record: PackageRecord, policy: ResolvedCompliancePolicy
    ) -> ComplianceRuleResult {
        let outcome = policy.outcome(forSeverity: finding.severity)
        var text = finding.advisoryIDs.joined(separator: " / ")
        if !finding.aliases.isEmpty { text += " (\(finding.aliases.joined(separator: ", ")))" }
        if let severity = finding.severity {
            text += ": \(severity.rawValue) severity"
            if let score = finding.cvssScore { text += " (CVSS \(String(format: "%.1f", score)))" }
        } else {
            text += ": no severity given"
        }
        if !finding.summary.isEmpty { text += ", \(finding.summary)" }
        text += ". \(record.name) \(record.version) is affected"
        text +=
            finding.fixedVersions.isEmpty
            ? "; no fixed version is known." : "; fixed in \(finding.fixedVersions.joined(separator: ", "))."
        switch outcome {
        case .noncompliant:
            text +=
                finding.severity == nil
                ? " The policy makes advisories without a severity noncompliant."
                : " The policy makes \(policy.vulnerabilityNoncompliantAt.rawValue) severity and above noncompliant."
        case .warn:
            text +=
                finding.severity == nil
                ? " The policy warns about advisories without a severity."
                : " The policy warns at \(policy.vulnerabilityWarnAt.rawValue) severity and above."
        case .compliant:
            text += " Below the policy's warning threshold."
        }
        return ComplianceRuleResult(
            rule: .vulnerability, outcome: outcome, reason: text, advisoryIDs: finding.advisoryIDs)
    }

    /// The licence rule: leaves are blocked (noncompliant), outside the allow list, unknown, or allowed; `AND`
    /// takes the worst operand, `OR` the best (the user may choose), `WITH` the licence's.
    static func licenseResult(_ license: NormalizedLicense, policy: ResolvedCompliancePolicy) -> ComplianceRuleResult {
        guard let expression = license.expression else {
            let what =
                license.original == nil
                ? "The package has no license field" : "The license field says nothing (\"\(license.original ?? "")\")"
            return ComplianceRuleResult(
                rule: .license, outcome: policy.unknownLicenseOutcome,
                reason:
                    "\(what); the policy's rule for unknown or missing licenses gives \(policy.unknownLicenseOutcome.rawValue)."
            )
        }
        let blocked = Set(policy.blockedLicenses.map { $0.lowercased() })
        let allowed = policy.allowedLicenses.map { Set($0.map { $0.lowercased() }) }

        func evaluate(_ expression: LicenseExpression) -> (ComplianceOutcome, String) {
            switch expression {
            case .license(let id):
                let key = id.lowercased()
                if blocked.contains(key) { return (.noncompliant, "\(id) is on the block list") }
                if let allowed {
                    var candidates = [key]
                    if key.hasSuffix("-or-later") { candidates.append(key.dropLast("-or-later".count) + "-only") }
                    if !candidates.contains(where: allowed.contains) {
                        return (policy.notAllowedLicenseOutcome, "\(id) is not on the allow list")
                    }
                }
                return (.compliant, "\(id) is allowed")
            case .unknown(let text):
                return (policy.unknownLicenseOutcome, "\"\(text)\" is not a recognised license")
            case .with(let inner, _):
                return evaluate(inner)
            case .and(let operands):
                let results = operands.map(evaluate)
                let worst = results.map(\.0).max() ?? .compliant
                return (worst, results.filter { $0.0 == worst }.map(\.1).joined(separator: "; "))
            case .or(let operands):
                let results = operands.map(evaluate)
                let best = results.map(\.0).min() ?? .compliant
                return (best, results.filter { $0.0 == best }.map(\.1).joined(separator: "; "))
            }
        }
        let (outcome, detail) = evaluate(expression)
        let shown = license.original.map { "\"\($0)\"" } ?? ""
        let reason = "License \(shown) (\(expression.spdx)): \(detail)."
        return ComplianceRuleResult(rule: .license, outcome: outcome, reason: reason)
    }
}
