/// The seam between compliance (which records a feed may show) and publishing (which builds every repodata variant
/// and the shards from the visible records).
///
/// `ChannelPublisher` asks the gate for a feed's ``ComplianceView`` once per snapshot build and leaves out every
/// record the view blocks; the compliance service implements the gate and asks the publisher to republish a feed's
/// subdirs when advisories, policies, exceptions or the feed's blocking switch change.
public protocol ComplianceGate: Sendable {
    /// What `feed` may show now, or nil when the feed does not block noncompliant packages (everything is visible).
    func view(feed: String) async -> (any ComplianceView)?
}

/// An immutable verdict table for one feed at one moment: cheap to query once per record while a snapshot is built.
public protocol ComplianceView: Sendable {
    /// Whether `record` (of `subdir`) must be left out of the feed's repodata and shards, and its file refused (403).
    func blocks(_ record: PackageRecord, subdir: String) -> Bool
}
