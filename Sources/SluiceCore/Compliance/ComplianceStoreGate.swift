import Foundation

/// A ``ComplianceGate`` that reads a ``ComplianceStore``: for a feed whose "block noncompliant packages" switch is
/// on, a ``FeedComplianceView`` under the feed's resolved policy, with the global and the feed's exceptions.
///
/// The advisory index (the costly part) is built once per ``ComplianceStore/complianceRevision()`` and shared by
/// every feed; a feed's view is kept until the revision changes or the earliest exception expiry it depended on
/// passes. When the store fails, the last view of the feed is served (never nil once a blocking view was built, so a
/// database hiccup does not expose blocked packages); the failure is counted in ``failures``.
///
/// Whoever changes compliance data (the compliance service) still asks the publisher to republish the affected
/// feeds; this gate only answers with current views when asked.
public actor ComplianceStoreGate: ComplianceGate {
    private struct Snapshot {
        var revision: Int64
        var index: AdvisoryIndex
        var globalPolicy: CompliancePolicy
        var exceptions: [ComplianceException]
        var blockingFeeds: Set<String>
    }

    private struct CachedView {
        var revision: Int64
        /// The view must be rebuilt at this moment (an exception it used expires); nil for never.
        var validUntil: Date?
        var view: FeedComplianceView
    }

    private let store: any ComplianceStore
    private let now: @Sendable () -> Date
    private var data: Snapshot?
    private var views: [String: CachedView] = [:]
    /// How many times the store failed while a view was asked for.
    public private(set) var failures = 0

    /// A gate over `store`; `now` gives the moment exceptions are judged at (tests pass a fixed clock).
    public init(store: any ComplianceStore, now: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.now = now
    }

    /// The view of `feed`, or nil when the feed does not block noncompliant packages.
    public func view(feed: String) async -> (any ComplianceView)? {
        do {
            return try await currentView(feed: feed)
        } catch {
            failures += 1
            return views[feed]?.view
        }
    }

    /// The full context of `feed` (policy, exceptions, index) whether or not it blocks: for compliance reports and
    /// promotion checks.
    /// - Throws: what the store throws.
    public func context(feed: String) async throws -> ComplianceContext {
        let data = try await currentData()
        let feedPolicy = try await store.compliancePolicy(feed: feed)
        return ComplianceContext(
            feed: feed, index: data.index,
            policy: CompliancePolicy.resolved(global: data.globalPolicy, feed: feedPolicy),
            exceptions: data.exceptions, now: now())
    }

    private func currentView(feed: String) async throws -> FeedComplianceView? {
        let data = try await currentData()
        guard data.blockingFeeds.contains(feed) else {
            views[feed] = nil
            return nil
        }
        let moment = now()
        if let cached = views[feed], cached.revision == data.revision,
            cached.validUntil.map({ moment < $0 }) ?? true
        {
            return cached.view
        }
        let context = try await self.context(feed: feed)
        let view = FeedComplianceView(context: context)
        let nextExpiry = context.exceptions.compactMap(\.expiresAt).filter { $0 > context.now }.min()
        // Another call may have loaded newer data meanwhile; keep what matches the data this view was built from.
        if let current = self.data, current.revision == data.revision {
            views[feed] = CachedView(revision: data.revision, validUntil: nextExpiry, view: view)
        }
        return view
    }

    private func currentData() async throws -> Snapshot {
        let revision = try await store.complianceRevision()
        if let data, data.revision == revision { return data }
        // Read the revision first: data read after it is at least that new, so a later change bumps it again.
        async let advisories = store.advisories()
        async let mappings = store.packageNameMappings()
        async let globalPolicy = store.globalCompliancePolicy()
        async let exceptions = store.complianceExceptions()
        async let blocking = store.feedsBlockingNoncompliant()
        let loaded = Snapshot(
            revision: revision,
            index: AdvisoryIndex(advisories: try await advisories.map(\.advisory), mappings: try await mappings),
            globalPolicy: try await globalPolicy, exceptions: try await exceptions,
            blockingFeeds: Set(try await blocking))
        if let data, data.revision > revision { return data }
        data = loaded
        return loaded
    }
}
