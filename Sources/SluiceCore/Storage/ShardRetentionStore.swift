import Foundation

/// One CEP 16 shard that a subdir of a feed has published: the bookkeeping row of the shard archive, which keeps
/// superseded shards downloadable for a while (clients that hold an older shard index still ask for them).
public struct PublishedShard: Hashable, Sendable {
    /// The feed that published the shard.
    public var feed: String
    /// The subdir (`linux-64`, `noarch`, …).
    public var subdir: String
    /// The lowercase hex SHA-256 of the compressed shard: its content address and its file name without
    /// `.msgpack.zst`.
    public var sha256: String
    /// When an index listing the shard was first recorded as published.
    public var firstPublishedAt: Date
    /// The last time an index listing the shard was recorded as published (or found still current). The shard may be
    /// removed once this is older than the retention period.
    public var lastPublishedAt: Date

    /// Creates a row.
    public init(feed: String, subdir: String, sha256: String, firstPublishedAt: Date, lastPublishedAt: Date) {
        self.feed = feed
        self.subdir = subdir
        self.sha256 = sha256
        self.firstPublishedAt = firstPublishedAt
        self.lastPublishedAt = lastPublishedAt
    }
}

/// The database part of the shard archive: which shards each (feed, subdir) has published, and when last.
///
/// The shard bytes themselves live in a content-addressed store of their own; these rows say which feed and subdir
/// may serve a shard (a shard is only ever served under the feed and subdir that published it) and when it may be
/// collected. Implemented by `MemoryMetadataStore` and `SQLMetadataStore` beside ``MetadataStore``; several server
/// instances on one database share the rows. Errors: `.invalidInput` for a malformed sha256, `.storageFailure` when
/// the database fails.
public protocol ShardRetentionStore: Sendable {
    /// Records that the shards `sha256s` of `feed`/`subdir` are published at `date`: inserts the missing rows (first
    /// and last published at `date`) and moves `lastPublishedAt` of existing rows forward to `date` (never back).
    /// Idempotent; safe to call from several instances at once.
    func recordPublishedShards(feed: String, subdir: String, sha256s: [String], at date: Date) async throws
    /// The row of one shard of `feed`/`subdir`, or nil if that subdir never published it (or it was collected).
    func publishedShard(feed: String, subdir: String, sha256: String) async throws -> PublishedShard?
    /// Deletes every row whose `lastPublishedAt` is before `cutoff` and returns, sorted, the sha256s of the deleted
    /// rows that no remaining row references (the shard bytes that may now be removed).
    func deletePublishedShards(lastPublishedBefore cutoff: Date) async throws -> [String]
}
