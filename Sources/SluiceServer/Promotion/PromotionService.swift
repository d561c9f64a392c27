import Foundation
import Logging
import SluiceCore
import SluiceUpstream

/// A file of the source feed as its channel serves it, and where its bytes are.
struct PromotionCandidate: Sendable {
    enum Source: Sendable {
        /// A package row of the source feed (its blob is in the blob store).
        case local
        /// A file only an upstream of the (proxy) source feed has; it may not be cached yet.
        case upstream(UpstreamPackage)
    }

    var subdir: String
    /// The record exactly as the source feed serves it (upstream hot-fixes included).
    var record: PackageRecord
    var source: Source

    var filename: String { record.filename }
}

/// The promotion logic behind ``PromotionController``: which feeds may take part, what the source serves, getting the
/// bytes (fetching and verifying upstream files first), the one-transaction commit and the republish.
struct PromotionService: Sendable {
    let services: SluiceServices

    /// The source and target feeds.
    /// - Throws: `.invalidInput` (400) when they are the same feed or the target is a proxy feed, `.notFound` (404)
    ///   for an unknown feed.
    func feeds(from fromName: String, to toName: String) async throws -> (from: Feed, to: Feed) {
        guard fromName != toName else {
            throw SluiceError.invalidInput(
                "Cannot promote from feed '\(fromName)' into itself; name another feed as toFeed.")
        }
        guard let from = try await services.metadata.feed(named: fromName) else {
            throw SluiceError.notFound("There is no feed named '\(fromName)' (fromFeed).")
        }
        guard let to = try await services.metadata.feed(named: toName) else {
            throw SluiceError.notFound("There is no feed named '\(toName)' (toFeed).")
        }
        guard !Self.isProxy(to) else {
            throw SluiceError.invalidInput(
                "Feed '\(toName)' is a proxy feed; packages can only be promoted into a hosted feed.")
        }
        return (from, to)
    }

    static func isProxy(_ feed: Feed) -> Bool {
        feed.kind == .proxy || !feed.connectors.isEmpty
    }

    /// The subdirs to search when the request names none. A hosted feed: those it holds packages in. A proxy feed:
    /// `noarch`, those it holds local packages in, and those for which one of its connectors has a saved upstream
    /// state (the subdirs clients have asked it for). An upstream subdir nobody asked for yet is only searched when
    /// the request names it (`subdir`), so a promotion never fans out over every platform of an upstream.
    func sourceSubdirs(of feed: Feed) async throws -> [String] {
        var subdirs = Set(try await services.metadata.subdirs(feed: feed.name))
        if Self.isProxy(feed) {
            subdirs.insert("noarch")
            for connector in feed.connectors {
                for snapshot in try await services.metadata.upstreamSnapshots(connector: connector)
                where snapshot.status == .present {
                    subdirs.insert(snapshot.subdir)
                }
            }
        }
        return subdirs.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Every file the source feed serves in `subdir`, by file name (empty when the subdir does not exist there).
    /// - Throws: store, build or upstream errors of the publisher (an upstream that cannot be reached → 502).
    func candidates(feed: String, subdir: String) async throws -> [String: PromotionCandidate] {
        guard ChannelNames.isSubdir(subdir),
            let served = try await services.publisher.servedSubdir(feed: feed, subdir: subdir)
        else { return [:] }
        var result: [String: PromotionCandidate] = [:]
        for (filename, record) in served.snapshot.records {
            if served.packages[filename] != nil {
                result[filename] = PromotionCandidate(subdir: subdir, record: record, source: .local)
            } else if let upstream = served.upstreamPackages[filename] {
                result[filename] = PromotionCandidate(subdir: subdir, record: record, source: .upstream(upstream))
            }
        }
        return result
    }

    /// The rows the target feed will hold: for a local file the source's row (same blob, same channel data); for an
    /// upstream file the served record, after the file was fetched into the cache and verified (when not cached).
    /// - Throws: `.upstreamUnavailable` (502) when an upstream file fails verification or cannot be fetched (nothing
    ///   is promoted), `.upstreamTimeout` (504), `.notFound` when a source file disappeared meanwhile.
    func targetRows(
        for candidates: [PromotionCandidate], from: Feed, to: Feed, user: String?, date: Date
    ) async throws -> [StoredPackage] {
        try await refuseNoncompliant(candidates, target: to)  // 409 `noncompliant` unless an exception covers it
        var rows: [StoredPackage] = []
        for candidate in candidates {
            var row: StoredPackage
            switch candidate.source {
            case .local:
                guard
                    let stored = try await services.metadata.package(
                        feed: from.name, subdir: candidate.subdir, filename: candidate.filename)
                else {
                    throw SluiceError.notFound(
                        "\(candidate.subdir)/\(candidate.filename) was removed from feed '\(from.name)' meanwhile.")
                }
                row = stored
            case .upstream(let upstream):
                let mirror = services.upstreamMirror
                let cached: CachedUpstreamFile
                if let hit = try await mirror.cachedPackage(
                    connector: upstream.connector, subdir: candidate.subdir, filename: candidate.filename)
                {
                    cached = hit
                } else {
                    cached = try await mirror.fetchPackage(
                        connector: upstream.connector, subdir: candidate.subdir, filename: candidate.filename,
                        expected: upstream.expected)
                }
                if let expected = upstream.expected.sha256, expected != cached.sha256 {
                    throw SluiceError(
                        .upstreamUnavailable,
                        "The cached copy of \(candidate.subdir)/\(candidate.filename) (sha256 \(cached.sha256)) does "
                            + "not match the upstream record (sha256 \(expected)); nothing was promoted.")
                }
                var record = candidate.record
                record.fields["sha256"] = .string(cached.sha256)
                if record.fields["size"] == nil { record.fields["size"] = .int(cached.size) }
                row = StoredPackage(feed: to.name, subdir: candidate.subdir, record: record)
            }
            row.feed = to.name
            row.uploadedAt = date
            row.uploadedBy = user
            rows.append(row)
        }
        return rows
    }

    /// Commits the batch in one store transaction, while holding the blob locks of its files (so no garbage
    /// collection can remove a blob between the check that it exists and the commit), then republishes each subdir of
    /// the target that changed so the next client request sees it.
    /// - Throws: `.conflict` (409) when the target holds a file name with other bytes (nothing written),
    ///   `.storageFailure` when a blob is missing or the database fails.
    func commit(_ batch: PromotionBatch, logger: Logger) async throws -> [PromotionResult] {
        let hashes = Set(batch.packages.map(\.sha256)).sorted()
        let results = try await withBlobLocks(hashes[...]) {
            for package in batch.packages where !(try await services.blobs.contains(sha256: package.sha256)) {
                throw SluiceError(
                    .storageFailure,
                    "The bytes of \(package.subdir)/\(package.filename) (sha256 \(package.sha256)) are missing from "
                        + "the blob store; nothing was promoted.")
            }
            return try await services.metadata.promote(batch)
        }
        var touched = Set<String>()
        for case .promoted(let record) in results { touched.insert(record.subdir) }
        for subdir in touched.sorted() {
            try await services.publisher.republish(feed: batch.toFeed, subdir: subdir)
        }
        let promoted = results.compactMap { result -> String? in
            if case .promoted(let record) = result { return "\(record.subdir)/\(record.filename)" }
            return nil
        }
        logger.info(
            "Packages promoted",
            metadata: [
                "fromFeed": "\(batch.fromFeed)", "toFeed": "\(batch.toFeed)", "files": "\(promoted)",
                "alreadyPromoted": "\(results.count - promoted.count)", "user": "\(batch.user ?? "-")",
            ])
        return results
    }

    private func withBlobLocks<T: Sendable>(_ keys: ArraySlice<String>, _ body: () async throws -> T) async throws -> T
    {
        guard let first = keys.first else { return try await body() }
        return try await services.blobLocks.withLock(first) {
            try await withBlobLocks(keys.dropFirst(), body)
        }
    }

    /// Records the deletion of `packages` from their feed in the promotion history (kind `delete`), one row each.
    /// `POST /api/packages/{feed}/delete` calls this after deleting, so history shows withdrawals from an approved
    /// feed beside the promotions. Failures are logged, not thrown: the deletion itself has happened.
    func recordDeletions(_ packages: [StoredPackage], user: String?, comments: String = "", logger: Logger) async {
        let date = Date()
        for package in packages {
            do {
                try await services.metadata.recordPackageEvent(
                    PromotionRecord(deleting: package, user: user, comments: comments, date: date))
            } catch {
                logger.warning(
                    "Could not record a deletion in the promotion history",
                    metadata: ["file": "\(package.feed)/\(package.subdir)/\(package.filename)", "error": "\(error)"])
            }
        }
    }
}
