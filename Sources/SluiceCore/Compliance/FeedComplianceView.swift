import Foundation

/// Everything needed to judge the records of one feed: the advisory index, the feed's resolved policy, the
/// exceptions and the moment of evaluation. Immutable and cheap to share.
public struct ComplianceContext: Sendable {
    /// The feed judged (exceptions scoped to other feeds are ignored).
    public var feed: String
    public var index: AdvisoryIndex
    public var policy: ResolvedCompliancePolicy
    /// Global exceptions and the feed's.
    public var exceptions: [ComplianceException]
    /// The moment verdicts are computed for (expiry of exceptions).
    public var now: Date

    /// Creates a context; `exceptions` scoped to other feeds are dropped here.
    public init(
        feed: String, index: AdvisoryIndex, policy: ResolvedCompliancePolicy, exceptions: [ComplianceException],
        now: Date
    ) {
        self.feed = feed
        self.index = index
        self.policy = policy
        self.exceptions = exceptions.filter { $0.feed == nil || $0.feed == feed }
        self.now = now
    }

    /// The full verdict for one record.
    public func verdict(
        for record: PackageRecord, subdir: String, license: NormalizedLicense? = nil
    )
        -> ComplianceVerdict
    {
        ComplianceEvaluator.evaluate(
            record: record, subdir: subdir, feed: feed, matches: index.matches(for: record), policy: policy,
            exceptions: exceptions, now: now, license: license)
    }
}

/// The ``ComplianceView`` of a feed that blocks noncompliant packages: a verdict table over the records it was
/// built with, and the same rules applied on the fly to any other record (a proxy feed's upstream records).
///
/// ``blocks(_:subdir:)`` is fast for the common case: a record no advisory names is decided by its licence alone,
/// and the licence rule's outcome is computed once per distinct licence text and cached.
public final class FeedComplianceView: ComplianceView, @unchecked Sendable {
    public let context: ComplianceContext
    private let verdictsByKey: [String: ComplianceVerdict]
    /// The licence rule's result per distinct licence text (guarded by `lock`); the key nil is a missing field.
    private var licenseResults: [String?: (license: NormalizedLicense, outcome: ComplianceOutcome)] = [:]
    private let lock = NSLock()

    /// Builds the view and the verdict table of `records` (pairs of record and subdir).
    public init(context: ComplianceContext, records: [(record: PackageRecord, subdir: String)] = []) {
        self.context = context
        var table: [String: ComplianceVerdict] = [:]
        table.reserveCapacity(records.count)
        var licenses: [String?: NormalizedLicense] = [:]
        for (record, subdir) in records {
            let text = record.fields["license"]?.stringValue
            let license = licenses[text] ?? LicenseNormalizer.normalize(text)
            licenses[text] = license
            table[Self.key(subdir, record.filename)] = context.verdict(for: record, subdir: subdir, license: license)
        }
        self.verdictsByKey = table
    }

    private static func key(_ subdir: String, _ filename: String) -> String { subdir + "/" + filename }

    /// Every verdict of the table, ordered by subdir and filename.
    public var verdicts: [ComplianceVerdict] {
        verdictsByKey.values.sorted { left, right in
            left.subdir == right.subdir
                ? left.filename.utf8.lexicographicallyPrecedes(right.filename.utf8)
                : left.subdir.utf8.lexicographicallyPrecedes(right.subdir.utf8)
        }
    }

    /// The verdicts that block (noncompliant and not covered by an exception), ordered as ``verdicts``.
    public var blockedVerdicts: [ComplianceVerdict] { verdicts.filter(\.blocks) }

    /// The table's verdict when it holds this file with the same name and version, else nil.
    private func tableVerdict(_ record: PackageRecord, subdir: String) -> ComplianceVerdict? {
        guard let verdict = verdictsByKey[Self.key(subdir, record.filename)],
            verdict.name == record.name, verdict.version == record.version
        else { return nil }
        return verdict
    }

    /// The verdict of a record: from the table when it holds the same file (filename, name and version), else
    /// evaluated now.
    public func verdict(for record: PackageRecord, subdir: String) -> ComplianceVerdict {
        if let verdict = tableVerdict(record, subdir: subdir) { return verdict }
        return context.verdict(for: record, subdir: subdir, license: licenseResult(of: record).license)
    }

    /// Whether `record` must be left out of the feed's repodata and shards and its download refused.
    public func blocks(_ record: PackageRecord, subdir: String) -> Bool {
        if let verdict = tableVerdict(record, subdir: subdir) { return verdict.blocks }
        let matches = context.index.matches(for: record)
        guard matches.isEmpty else {
            return ComplianceEvaluator.evaluate(
                record: record, subdir: subdir, feed: context.feed, matches: matches, policy: context.policy,
                exceptions: context.exceptions, now: context.now, license: licenseResult(of: record).license
            ).blocks
        }
        guard context.policy.licenseRuleCanBlock, licenseResult(of: record).outcome == .noncompliant else {
            return false
        }
        return !context.exceptions.contains {
            $0.covers(name: record.name, version: record.version, feed: context.feed, now: context.now)
        }
    }

    private func licenseResult(of record: PackageRecord) -> (license: NormalizedLicense, outcome: ComplianceOutcome) {
        let text = record.fields["license"]?.stringValue
        lock.lock()
        let cached = licenseResults[text]
        lock.unlock()
        if let cached { return cached }
        let license = LicenseNormalizer.normalize(text)
        let result = (license, ComplianceEvaluator.licenseResult(license, policy: context.policy).outcome)
        lock.lock()
        licenseResults[text] = result
        lock.unlock()
        return result
    }
}
