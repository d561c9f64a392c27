import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import SluiceCore

/// Owns every change of compliance data: advisory imports, the global and per-feed policies, exceptions, name
/// mappings and each feed's "block noncompliant packages" switch.
///
/// Every change is followed by the same three steps: the affected feeds (those that block, or the one feed the change
/// concerns) are re-evaluated, the ``ChannelPublisher`` republishes them (blocked records leave or return to every
/// repodata variant and the shards), and a `compliance-…` event goes to the event log naming the change and which
/// files became blocked or unblocked. ``run()`` (a background loop started by the server) republishes when an
/// exception expires and polls `compliance.advisoryURL` every `compliance.pollMinutes` when configured.
public actor ComplianceService {
    /// What one change did to the blocking feeds.
    public struct ChangeSummary: Sendable, Hashable, Codable {
        /// The feeds re-evaluated and republished.
        public var feeds: [String]
        /// Files (`feed/subdir/filename`) that became blocked.
        public var blocked: [String]
        /// Files that are no longer blocked.
        public var unblocked: [String]

        /// Creates a summary.
        public init(feeds: [String] = [], blocked: [String] = [], unblocked: [String] = []) {
            self.feeds = feeds
            self.blocked = blocked
            self.unblocked = unblocked
        }
    }

    /// The result of an advisory import.
    public struct ImportSummary: Sendable, Hashable, Codable {
        public var record: AdvisoryImportRecord
        /// The files of a directory or zip that were skipped, with why.
        public var skippedFiles: [String]
        public var changes: ChangeSummary
    }

    /// The compliance data.
    public let store: any ComplianceStore
    /// The gate the publisher and the download check ask.
    public let gate: ComplianceStoreGate
    private let metadata: any MetadataStore
    private let publisher: ChannelPublisher
    private let access: AccessControl
    private let mirror: UpstreamMirror?
    private let httpClient: HTTPClient?
    private let advisoryURL: String?
    private let pollInterval: TimeInterval?
    private let temporaryDirectory: URL
    private let logger: Logger
    private let now: @Sendable () -> Date
    /// The moment of the last expiry check: exceptions that expired after it trigger a republish.
    private var lastExpiryCheck: Date

    /// Creates the service.
    /// - Parameters:
    ///   - advisoryURL: an OSV JSON or zip URL polled every `pollMinutes` by ``run()`` (nil or 0 minutes: never).
    public init(
        store: any ComplianceStore, gate: ComplianceStoreGate, metadata: any MetadataStore,
        publisher: ChannelPublisher, access: AccessControl, mirror: UpstreamMirror?, httpClient: HTTPClient?,
        advisoryURL: String?, pollMinutes: Int, temporaryDirectory: URL, logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = store
        self.gate = gate
        self.metadata = metadata
        self.publisher = publisher
        self.access = access
        self.mirror = mirror
        self.httpClient = httpClient
        self.advisoryURL = advisoryURL.flatMap { $0.isEmpty ? nil : $0 }
        self.pollInterval = pollMinutes > 0 ? TimeInterval(pollMinutes) * 60 : nil
        self.temporaryDirectory = temporaryDirectory
        self.logger = logger
        self.now = now
        self.lastExpiryCheck = now()
    }

    // MARK: Reports

    /// The records a feed serves or could serve: its local packages and, for a proxy feed, the upstream records the
    /// mirror holds now (no upstream call), each with its subdir.
    func records(feed: String) async throws -> [(record: PackageRecord, subdir: String)] {
        guard let feedRow = try await metadata.feed(named: feed) else {
            throw SluiceError.notFound("There is no feed named '\(feed)'.")
        }
        var result: [(record: PackageRecord, subdir: String)] = []
        var seen = Set<String>()
        for subdir in try await metadata.subdirs(feed: feed) {
            for package in try await metadata.packages(feed: feed, subdir: subdir) {
                seen.insert(subdir + "/" + package.filename)
                result.append((package.record, subdir))
            }
        }
        if let mirror {
            for connector in feedRow.connectors {
                for (subdir, records) in await mirror.loadedRecords(connector: connector) {
                    for record in records where seen.insert(subdir + "/" + record.filename).inserted {
                        result.append((record, subdir))
                    }
                }
            }
        }
        return result
    }

    /// The verdict of every record of `feed` under its resolved policy, ordered by subdir and filename (whether or
    /// not the feed blocks).
    /// - Throws: `.notFound` for an unknown feed; store errors.
    public func verdicts(feed: String) async throws -> [ComplianceVerdict] {
        let records = try await records(feed: feed)
        let context = try await gate.context(feed: feed)
        return FeedComplianceView(context: context, records: records).verdicts
    }

    /// The verdicts of the files of package `name` (optionally one `version`) in `feed`.
    /// - Throws: `.notFound` for an unknown feed or when the feed has no such package.
    public func verdicts(feed: String, name: String, version: String?) async throws -> [ComplianceVerdict] {
        let wanted = try await records(feed: feed).filter {
            $0.record.name == name && (version == nil || $0.record.version == version)
        }
        guard !wanted.isEmpty else {
            throw SluiceError.notFound(
                "Feed '\(feed)' has no package '\(name)'" + (version.map { " version \($0)" } ?? "") + ".")
        }
        let context = try await gate.context(feed: feed)
        return FeedComplianceView(context: context, records: wanted).verdicts
    }

    /// The files a feed hides now (`subdir/filename`), empty when its switch is off.
    private func blockedFiles(feed: String) async throws -> Set<String> {
        guard try await store.blocksNoncompliant(feed: feed) else { return [] }
        // The view's fast path (licence results cached per text, full evaluation only for named packages).
        let view = FeedComplianceView(context: try await gate.context(feed: feed))
        return Set(
            try await records(feed: feed).filter { view.blocks($0.record, subdir: $0.subdir) }
                .map { $0.subdir + "/" + $0.record.filename })
    }

    // MARK: Changes

    /// Runs `change`, then re-evaluates and republishes `feeds` (nil: every feed that blocks, before or after) and
    /// records an event of `kind` about `subject` with `detail` and the files blocked or unblocked.
    private func apply(
        kind: String, subject: String?, detail: String, actor: String?, remoteAddress: String?,
        feeds scope: String?, _ change: () async throws -> Void
    ) async throws -> ChangeSummary {
        var feeds = Set<String>()
        if let scope {
            feeds.insert(scope)
        } else {
            feeds.formUnion(try await store.feedsBlockingNoncompliant())
        }
        var before: [String: Set<String>] = [:]
        for feed in feeds { before[feed] = (try? await blockedFiles(feed: feed)) ?? [] }
        try await change()
        if scope == nil { feeds.formUnion(try await store.feedsBlockingNoncompliant()) }
        var summary = ChangeSummary(feeds: feeds.sorted())
        for feed in summary.feeds {
            let after = (try? await blockedFiles(feed: feed)) ?? []
            let previous = before[feed] ?? []
            summary.blocked += after.subtracting(previous).map { "\(feed)/\($0)" }.sorted()
            summary.unblocked += previous.subtracting(after).map { "\(feed)/\($0)" }.sorted()
            await republish(feed: feed)
        }
        var text = detail
        if !summary.blocked.isEmpty { text += " Now blocked: \(summary.blocked.joined(separator: ", "))." }
        if !summary.unblocked.isEmpty { text += " No longer blocked: \(summary.unblocked.joined(separator: ", "))." }
        await access.record(
            SecurityEvent(
                kind: kind, actor: actor, subject: subject, detail: text, remoteAddress: remoteAddress, at: now()))
        return summary
    }

    private func republish(feed: String) async {
        do {
            try await publisher.republish(feed: feed)
        } catch {
            logger.warning(
                "Could not republish a feed after a compliance change",
                metadata: ["feed": "\(feed)", "error": "\(error)"])
        }
    }

    /// Imports advisories read from a file, a directory or a zip at `url`.
    /// - Throws: what ``OSVImport/load(from:)`` throws (`.notFound`, `.invalidInput`), store errors.
    public func importAdvisories(
        from url: URL, source: String? = nil, actor: String?, remoteAddress: String? = nil
    ) async throws -> ImportSummary {
        let result = try OSVImport.load(from: url)
        return try await store(
            result.advisories, skipped: result.skipped.map { "\($0.source): \($0.reason)" },
            source: source ?? url.path, actor: actor, remoteAddress: remoteAddress)
    }

    /// Imports advisories sent as bytes: OSV JSON (one advisory, an array, or `{"vulns": [...]}`) or a zip of JSON
    /// files (recognised by its signature).
    /// - Throws: `.invalidInput` for malformed JSON or a corrupt zip; store errors.
    public func importAdvisories(
        bytes: [UInt8], source: String, actor: String?, remoteAddress: String? = nil
    ) async throws -> ImportSummary {
        let advisories: [OSVAdvisory]
        var skipped: [String] = []
        if bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) || bytes.starts(with: [0x50, 0x4B, 0x05, 0x06]) {
            let file = temporaryDirectory.appendingPathComponent(UUID().uuidString.lowercased() + ".zip")
            do {
                try Data(bytes).write(to: file)
            } catch {
                throw SluiceError(.storageFailure, "Could not store the uploaded zip.", cause: error)
            }
            defer { try? FileManager.default.removeItem(at: file) }
            let result = try OSVImport.load(from: file)
            advisories = result.advisories
            skipped = result.skipped.map {
                "\($0.source.replacingOccurrences(of: file.path, with: source)): \($0.reason)"
            }
        } else {
            advisories = ComplianceStoreRules.lastOfEachID(try OSVAdvisory.parse(bytes))
        }
        return try await store(
            advisories, skipped: skipped, source: source, actor: actor, remoteAddress: remoteAddress)
    }

    private func store(
        _ advisories: [OSVAdvisory], skipped: [String], source: String, actor: String?, remoteAddress: String?
    ) async throws -> ImportSummary {
        try ComplianceStoreRules.validate(advisories)
        var record: AdvisoryImportRecord?
        let changes = try await apply(
            kind: "compliance-advisories-imported", subject: source,
            detail: "Imported \(advisories.count) advisories from \(source).", actor: actor,
            remoteAddress: remoteAddress, feeds: nil
        ) {
            record = try await store.importAdvisories(
                advisories, source: source, importedBy: actor, skipped: skipped.count, at: now())
        }
        guard let record else { throw SluiceError(.internalError, "The import recorded nothing.") }
        return ImportSummary(record: record, skippedFiles: skipped, changes: changes)
    }

    /// Replaces the global policy.
    public func setGlobalPolicy(
        _ policy: CompliancePolicy, actor: String?, remoteAddress: String? = nil
    ) async throws -> ChangeSummary {
        try await apply(
            kind: "compliance-policy-changed", subject: "global policy", detail: "The global policy changed.",
            actor: actor, remoteAddress: remoteAddress, feeds: nil
        ) { try await store.setGlobalCompliancePolicy(policy) }
    }

    /// Sets (or with nil removes) the policy of `feed`.
    /// - Throws: `.notFound` for an unknown feed.
    public func setFeedPolicy(
        _ policy: CompliancePolicy?, feed: String, actor: String?, remoteAddress: String? = nil
    ) async throws -> ChangeSummary {
        try await requireFeed(feed)
        return try await apply(
            kind: "compliance-policy-changed", subject: "feed \(feed)",
            detail: policy == nil
                ? "The policy of feed '\(feed)' was removed." : "The policy of feed '\(feed)' changed.",
            actor: actor, remoteAddress: remoteAddress, feeds: feed
        ) { try await store.setCompliancePolicy(policy, feed: feed) }
    }

    /// Turns the "block noncompliant packages" switch of `feed` on or off.
    /// - Throws: `.notFound` for an unknown feed.
    public func setBlocking(
        _ enabled: Bool, feed: String, actor: String?, remoteAddress: String? = nil
    ) async throws -> ChangeSummary {
        try await requireFeed(feed)
        return try await apply(
            kind: "compliance-blocking-changed", subject: "feed \(feed)",
            detail: "Blocking of noncompliant packages in feed '\(feed)' was turned \(enabled ? "on" : "off").",
            actor: actor, remoteAddress: remoteAddress, feeds: feed
        ) { try await store.setBlocksNoncompliant(enabled, feed: feed) }
    }

    /// Adds an exception (stamped with `actor` and now).
    /// - Throws: `.invalidInput` for an invalid pattern or version spec, `.notFound` for an unknown feed.
    public func addException(
        _ exception: ComplianceException, actor: String?, remoteAddress: String? = nil
    ) async throws -> (ComplianceException, ChangeSummary) {
        var exception = exception
        exception.createdAt = now()
        exception.createdBy = actor
        try exception.validate()
        if let feed = exception.feed { try await requireFeed(feed) }
        var stored = exception
        let describe = Self.describe(exception)
        let changes = try await apply(
            kind: "compliance-exception-added", subject: describe,
            detail: "Exception added for \(describe): \(exception.reason)", actor: actor,
            remoteAddress: remoteAddress, feeds: exception.feed
        ) { stored = try await store.addComplianceException(exception) }
        return (stored, changes)
    }

    /// Deletes an exception.
    /// - Throws: `.notFound` when there is no exception with this id.
    public func deleteException(
        id: Int64, actor: String?, remoteAddress: String? = nil
    ) async throws -> (ComplianceException, ChangeSummary) {
        guard let existing = try await store.complianceExceptions().first(where: { $0.id == id }) else {
            throw SluiceError.notFound("There is no compliance exception with id \(id).")
        }
        let describe = Self.describe(existing)
        let changes = try await apply(
            kind: "compliance-exception-deleted", subject: describe, detail: "Exception \(id) for \(describe) deleted.",
            actor: actor, remoteAddress: remoteAddress, feeds: existing.feed
        ) { _ = try await store.deleteComplianceException(id: id) }
        return (existing, changes)
    }

    /// Adds a PyPI → conda name mapping.
    /// - Throws: `.invalidInput` when a name is empty.
    public func addMapping(
        _ mapping: PackageNameMapping, actor: String?, remoteAddress: String? = nil
    ) async throws -> ChangeSummary {
        try ComplianceStoreRules.validate(mapping)
        return try await apply(
            kind: "compliance-mapping-added", subject: "\(mapping.pypiName) → \(mapping.condaName)",
            detail: "PyPI package '\(mapping.pypiName)' now maps to conda package '\(mapping.condaName)'.",
            actor: actor, remoteAddress: remoteAddress, feeds: nil
        ) { try await store.addPackageNameMapping(mapping) }
    }

    /// Removes a name mapping.
    /// - Throws: `.notFound` when there is no such mapping.
    public func removeMapping(
        pypiName: String, condaName: String, actor: String?, remoteAddress: String? = nil
    ) async throws -> ChangeSummary {
        var removed = false
        let summary = try await apply(
            kind: "compliance-mapping-deleted", subject: "\(pypiName) → \(condaName)",
            detail: "The mapping of PyPI package '\(pypiName)' to conda package '\(condaName)' was removed.",
            actor: actor, remoteAddress: remoteAddress, feeds: nil
        ) { removed = try await store.removePackageNameMapping(pypiName: pypiName, condaName: condaName) }
        guard removed else {
            throw SluiceError.notFound("There is no mapping of PyPI package '\(pypiName)' to '\(condaName)'.")
        }
        return summary
    }

    private func requireFeed(_ feed: String) async throws {
        guard try await metadata.feed(named: feed) != nil else {
            throw SluiceError.notFound("There is no feed named '\(feed)'.")
        }
    }

    /// `flask 0.11.*` on feed `main`, as events and messages name an exception.
    static func describe(_ exception: ComplianceException) -> String {
        var text = exception.packagePattern
        if let spec = exception.versionSpec, !spec.isEmpty { text += " \(spec)" }
        text += exception.feed.map { " on feed '\($0)'" } ?? " on every feed"
        return text
    }

    // MARK: Background work

    /// Republishes the feeds an exception that expired since the last check applied to, and records an event.
    /// Returns the expired exceptions.
    @discardableResult
    public func checkExpiredExceptions() async throws -> [ComplianceException] {
        let moment = now()
        let since = lastExpiryCheck
        lastExpiryCheck = moment
        let expired = try await store.complianceExceptions().filter {
            guard let expiry = $0.expiresAt else { return false }
            return expiry > since && expiry <= moment
        }
        guard !expired.isEmpty else { return [] }
        let blocking = try await store.feedsBlockingNoncompliant()
        var feeds = Set<String>()
        for exception in expired {
            if let feed = exception.feed {
                if blocking.contains(feed) { feeds.insert(feed) }
            } else {
                feeds.formUnion(blocking)
            }
        }
        for feed in feeds.sorted() { await republish(feed: feed) }
        for exception in expired {
            await access.record(
                SecurityEvent(
                    kind: "compliance-exception-expired", actor: nil, subject: Self.describe(exception),
                    detail: "Exception \(exception.id) for \(Self.describe(exception)) expired; republished: "
                        + (feeds.isEmpty ? "none" : feeds.sorted().joined(separator: ", ")) + ".",
                    at: moment))
        }
        return expired
    }

    /// The next moment an exception expires after now, if any.
    private func nextExpiry() async -> Date? {
        let moment = now()
        return (try? await store.complianceExceptions())?.compactMap(\.expiresAt).filter { $0 > moment }.min()
    }

    /// Downloads `compliance.advisoryURL` and imports it.
    /// - Throws: `.upstreamUnavailable` when the download fails; import errors.
    @discardableResult
    public func pollAdvisories() async throws -> ImportSummary? {
        guard let advisoryURL, let httpClient else { return nil }
        var request = HTTPClientRequest(url: advisoryURL)
        request.method = .GET
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await httpClient.execute(request, timeout: .seconds(120))
            body = try await response.body.collect(upTo: 512 << 20)
        } catch {
            throw SluiceError(.upstreamUnavailable, "Could not download advisories from \(advisoryURL).", cause: error)
        }
        guard response.status.code == 200 else {
            throw SluiceError(
                .upstreamUnavailable, "Downloading advisories from \(advisoryURL) answered \(response.status.code).")
        }
        return try await importAdvisories(bytes: Array(body.readableBytesView), source: advisoryURL, actor: nil)
    }

    /// Runs until cancelled: republishes when exceptions expire (checked at each expiry and at least every minute)
    /// and polls the advisory URL on its schedule (first poll right away).
    public func run() async {
        var nextPoll: Date? = pollInterval == nil || advisoryURL == nil ? nil : now()
        while !Task.isCancelled {
            do {
                try await checkExpiredExceptions()
            } catch {
                logger.warning("Could not check compliance exception expiry", metadata: ["error": "\(error)"])
            }
            if let due = nextPoll, due <= now(), let pollInterval {
                do {
                    if let summary = try await pollAdvisories() {
                        logger.info(
                            "Advisories polled",
                            metadata: [
                                "added": "\(summary.record.added)", "updated": "\(summary.record.updated)",
                            ])
                    }
                } catch {
                    logger.warning("Advisory poll failed", metadata: ["error": "\(error)"])
                }
                nextPoll = now().addingTimeInterval(pollInterval)
            }
            var wake = now().addingTimeInterval(60)
            if let expiry = await nextExpiry(), expiry < wake { wake = expiry }
            if let nextPoll, nextPoll < wake { wake = nextPoll }
            let delay = max(0.05, wake.timeIntervalSince(now()) + 0.05)
            do {
                try await Task.sleep(for: .milliseconds(Int64(delay * 1000)))
            } catch {
                return
            }
        }
    }
}
