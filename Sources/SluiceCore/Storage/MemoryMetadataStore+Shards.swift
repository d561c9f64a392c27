import Foundation

extension MemoryMetadataStore: ShardRetentionStore {
    /// Inserts missing rows and moves `lastPublishedAt` of existing ones forward; see
    /// ``ShardRetentionStore/recordPublishedShards(feed:subdir:sha256s:at:)``. Throws `.invalidInput` for a malformed
    /// sha256 (nothing is recorded then).
    public func recordPublishedShards(feed: String, subdir: String, sha256s: [String], at date: Date) throws {
        for sha256 in sha256s {
            try ContentAddress.validate(sha256: sha256)
        }
        for sha256 in sha256s {
            let key = PublishedShardKey(feed: feed, subdir: subdir, sha256: sha256)
            if var row = publishedShardsByKey[key] {
                if row.lastPublishedAt < date {
                    row.lastPublishedAt = date
                    publishedShardsByKey[key] = row
                }
            } else {
                publishedShardsByKey[key] = PublishedShard(
                    feed: feed, subdir: subdir, sha256: sha256, firstPublishedAt: date, lastPublishedAt: date)
            }
        }
    }

    /// The row of one published shard, or nil.
    public func publishedShard(feed: String, subdir: String, sha256: String) -> PublishedShard? {
        publishedShardsByKey[PublishedShardKey(feed: feed, subdir: subdir, sha256: sha256)]
    }

    /// Deletes the rows last published before `cutoff`; returns the sha256s no remaining row references, sorted.
    public func deletePublishedShards(lastPublishedBefore cutoff: Date) -> [String] {
        var deleted = Set<String>()
        for (key, row) in publishedShardsByKey where row.lastPublishedAt < cutoff {
            publishedShardsByKey[key] = nil
            deleted.insert(key.sha256)
        }
        guard !deleted.isEmpty else { return [] }
        for key in publishedShardsByKey.keys {
            deleted.remove(key.sha256)
        }
        return deleted.sorted()
    }
}

/// The key of a ``PublishedShard`` row in `MemoryMetadataStore`.
struct PublishedShardKey: Hashable, Sendable {
    var feed: String
    var subdir: String
    var sha256: String
}
