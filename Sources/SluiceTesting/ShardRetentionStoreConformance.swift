import Foundation
import SluiceCore
import Testing

/// The behaviour every ``ShardRetentionStore`` must have (memory and SQL), as checks that a test target runs against
/// each implementation, each check on a fresh, empty store:
///
/// ```swift
/// @Test(arguments: ShardRetentionStoreConformance.checks)
/// func memory(_ check: ShardRetentionStoreConformance.Check) async throws {
///     try await check.run(MemoryMetadataStore())
/// }
/// ```
///
/// Timestamps are whole milliseconds, the precision the SQL store keeps.
public enum ShardRetentionStoreConformance {
    /// One named check; `run` takes a fresh, empty store.
    public struct Check: Sendable, CustomStringConvertible {
        public var name: String
        public var run: @Sendable (any ShardRetentionStore) async throws -> Void
        public var description: String { name }
    }

    /// Every check.
    public static let checks: [Check] = [
        Check(name: "record inserts rows; a later record moves lastPublishedAt forward, never back", run: record),
        Check(name: "rows are per feed and subdir", run: scoping),
        Check(name: "delete removes expired rows, returns sha256s no row references", run: delete),
        Check(name: "malformed sha256s are refused and nothing is written", run: malformed),
        Check(name: "1,000 shards in one call, and 10 concurrent records of the same rows", run: bulkAndConcurrent),
    ]

    static let instant = Date(timeIntervalSince1970: 1_700_000_000.250)

    /// A valid sha256 made of one repeated hex digit pair.
    static func hash(_ index: Int) -> String {
        String(format: "%064x", index)
    }

    static func record(_ store: any ShardRetentionStore) async throws {
        let a = hash(1)
        let b = hash(2)
        try await store.recordPublishedShards(feed: "f", subdir: "noarch", sha256s: [a, b], at: instant)
        let row = try #require(try await store.publishedShard(feed: "f", subdir: "noarch", sha256: a))
        #expect(
            row
                == PublishedShard(
                    feed: "f", subdir: "noarch", sha256: a, firstPublishedAt: instant, lastPublishedAt: instant))

        let later = instant.addingTimeInterval(3_600)
        try await store.recordPublishedShards(feed: "f", subdir: "noarch", sha256s: [a], at: later)
        let moved = try #require(try await store.publishedShard(feed: "f", subdir: "noarch", sha256: a))
        #expect(moved.firstPublishedAt == instant)
        #expect(moved.lastPublishedAt == later)
        // An older time (another instance's clock, a late write) does not move it back.
        try await store.recordPublishedShards(feed: "f", subdir: "noarch", sha256s: [a], at: instant)
        #expect(try await store.publishedShard(feed: "f", subdir: "noarch", sha256: a)?.lastPublishedAt == later)
        #expect(try await store.publishedShard(feed: "f", subdir: "noarch", sha256: b)?.lastPublishedAt == instant)
        #expect(try await store.publishedShard(feed: "f", subdir: "noarch", sha256: hash(3)) == nil)
        // An empty list is a no-op.
        try await store.recordPublishedShards(feed: "f", subdir: "noarch", sha256s: [], at: later)
    }

    static func scoping(_ store: any ShardRetentionStore) async throws {
        let a = hash(7)
        try await store.recordPublishedShards(feed: "f", subdir: "linux-64", sha256s: [a], at: instant)
        #expect(try await store.publishedShard(feed: "f", subdir: "linux-64", sha256: a) != nil)
        #expect(try await store.publishedShard(feed: "f", subdir: "noarch", sha256: a) == nil)
        #expect(try await store.publishedShard(feed: "g", subdir: "linux-64", sha256: a) == nil)
    }

    static func delete(_ store: any ShardRetentionStore) async throws {
        let old = hash(10)
        let shared = hash(11)
        let fresh = hash(12)
        let later = instant.addingTimeInterval(86_400)
        try await store.recordPublishedShards(feed: "f", subdir: "noarch", sha256s: [old, shared], at: instant)
        // The same bytes published by another feed more recently.
        try await store.recordPublishedShards(feed: "g", subdir: "noarch", sha256s: [shared, fresh], at: later)

        #expect(try await store.deletePublishedShards(lastPublishedBefore: instant) == [])
        let removed = try await store.deletePublishedShards(lastPublishedBefore: instant.addingTimeInterval(1))
        #expect(removed == [old], "the shared bytes are still referenced by feed g")
        #expect(try await store.publishedShard(feed: "f", subdir: "noarch", sha256: old) == nil)
        #expect(try await store.publishedShard(feed: "f", subdir: "noarch", sha256: shared) == nil)
        #expect(try await store.publishedShard(feed: "g", subdir: "noarch", sha256: shared) != nil)

        let all = try await store.deletePublishedShards(lastPublishedBefore: later.addingTimeInterval(1))
        #expect(all == [shared, fresh].sorted())
        #expect(try await store.deletePublishedShards(lastPublishedBefore: later.addingTimeInterval(10)) == [])
    }

    static func malformed(_ store: any ShardRetentionStore) async throws {
        let good = hash(20)
        for bad in ["../../etc/passwd", String(repeating: "A", count: 64), "abc"] {
            await #expect(throws: SluiceError.self) {
                try await store.recordPublishedShards(feed: "f", subdir: "noarch", sha256s: [good, bad], at: instant)
            }
        }
        #expect(try await store.publishedShard(feed: "f", subdir: "noarch", sha256: good) == nil)
    }

    static func bulkAndConcurrent(_ store: any ShardRetentionStore) async throws {
        let many = (0..<1_000).map { hash(1_000 + $0) }
        try await store.recordPublishedShards(feed: "big", subdir: "linux-64", sha256s: many, at: instant)
        #expect(try await store.publishedShard(feed: "big", subdir: "linux-64", sha256: many[999]) != nil)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for step in 0..<10 {
                group.addTask {
                    try await store.recordPublishedShards(
                        feed: "big", subdir: "linux-64", sha256s: Array(many[0..<50]),
                        at: instant.addingTimeInterval(Double(step)))
                }
            }
            try await group.waitForAll()
        }
        let row = try #require(try await store.publishedShard(feed: "big", subdir: "linux-64", sha256: many[0]))
        #expect(row.lastPublishedAt == instant.addingTimeInterval(9))
        #expect(row.firstPublishedAt == instant)
        let removed = try await store.deletePublishedShards(lastPublishedBefore: instant.addingTimeInterval(1))
        #expect(removed.count == 950)
    }
}
