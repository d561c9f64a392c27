import Foundation
import SluiceCore
import Testing

/// The behaviour every ``DownloadCountStore`` must have (memory and SQL), as checks that a test target runs against
/// each implementation, each check on a fresh, empty store:
///
/// ```swift
/// @Test(arguments: DownloadCountStoreConformance.checks)
/// func memory(_ check: DownloadCountStoreConformance.Check) async throws {
///     try await check.run(MemoryMetadataStore())
/// }
/// ```
///
/// Timestamps are whole milliseconds, the precision the SQL store keeps.
public enum DownloadCountStoreConformance {
    /// One named check; `run` takes a fresh, empty store.
    public struct Check: Sendable, CustomStringConvertible {
        /// What the check asserts.
        public var name: String
        /// Runs the check on a fresh store.
        public var run: @Sendable (any DownloadCountStore) async throws -> Void
        /// The name, shown by Swift Testing.
        public var description: String { name }
    }

    /// Every check.
    public static let checks: [Check] = [
        Check(name: "deltas create rows and add to existing ones; lastDownloadedAt follows", run: addsUp),
        Check(name: "counts are per feed and package name, ordered by subdir then filename", run: scoping),
        Check(name: "zero and negative deltas are ignored", run: ignoresNonPositive),
        Check(name: "20 concurrent batches add up, 500 files in one batch", run: concurrentAndBulk),
    ]

    static let first = Date(timeIntervalSince1970: 1_700_000_000.250)
    static let second = Date(timeIntervalSince1970: 1_700_000_060.500)

    static func key(_ feed: String, _ subdir: String, _ filename: String) -> DownloadKey {
        DownloadKey(feed: feed, subdir: subdir, filename: filename)
    }

    static func addsUp(_ store: any DownloadCountStore) async throws {
        let a = key("main", "noarch", "tzdata-2024a-0.conda")
        let b = key("main", "linux-64", "tzdata-2024a-1.tar.bz2")
        try await store.addDownloads([a: 3, b: 1], at: first)
        var counts = try await store.downloadCounts(feed: "main", name: "tzdata")
        #expect(
            counts == [
                DownloadCount(key: b, count: 1, lastDownloadedAt: first),
                DownloadCount(key: a, count: 3, lastDownloadedAt: first),
            ])
        try await store.addDownloads([a: 2], at: second)
        counts = try await store.downloadCounts(feed: "main", name: "tzdata")
        #expect(
            counts == [
                DownloadCount(key: b, count: 1, lastDownloadedAt: first),
                DownloadCount(key: a, count: 5, lastDownloadedAt: second),
            ])
    }

    static func scoping(_ store: any DownloadCountStore) async throws {
        try await store.addDownloads(
            [
                key("main", "noarch", "tzdata-2024a-0.conda"): 1,
                key("main", "noarch", "tzdata-extra-1.0-0.conda"): 7,
                key("main", "linux-64", "python-3.12.1-h0_0.conda"): 2,
                key("other", "noarch", "tzdata-2024a-0.conda"): 4,
                key("main", "noarch", "tzdata-2023c-0.tar.bz2"): 5,
            ], at: first)
        let main = try await store.downloadCounts(feed: "main", name: "tzdata")
        #expect(main.map(\.key.filename) == ["tzdata-2023c-0.tar.bz2", "tzdata-2024a-0.conda"])
        #expect(main.map(\.count) == [5, 1])
        #expect(try await store.downloadCounts(feed: "other", name: "tzdata").map(\.count) == [4])
        #expect(try await store.downloadCounts(feed: "main", name: "tzdata-extra").map(\.count) == [7])
        #expect(try await store.downloadCounts(feed: "main", name: "python").map(\.key.subdir) == ["linux-64"])
        #expect(try await store.downloadCounts(feed: "nope", name: "tzdata").isEmpty)
    }

    static func ignoresNonPositive(_ store: any DownloadCountStore) async throws {
        try await store.addDownloads([:], at: first)
        try await store.addDownloads(
            [key("main", "noarch", "tzdata-2024a-0.conda"): 0, key("main", "noarch", "tzdata-2024b-0.conda"): -3],
            at: first)
        #expect(try await store.downloadCounts(feed: "main", name: "tzdata").isEmpty)
    }

    static func concurrentAndBulk(_ store: any DownloadCountStore) async throws {
        let shared = key("main", "noarch", "tzdata-2024a-0.conda")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<20 {
                group.addTask { try await store.addDownloads([shared: Int64(index + 1)], at: first) }
            }
            try await group.waitForAll()
        }
        #expect(try await store.downloadCounts(feed: "main", name: "tzdata").map(\.count) == [210])
        var bulk: [DownloadKey: Int64] = [:]
        for index in 0..<500 {
            bulk[key("bulk", "noarch", "pkg-1.\(index)-0.conda")] = Int64(index % 3 + 1)
        }
        try await store.addDownloads(bulk, at: second)
        let counts = try await store.downloadCounts(feed: "bulk", name: "pkg")
        #expect(counts.count == 500)
        #expect(counts.reduce(0) { $0 + $1.count } == bulk.values.reduce(0, +))
    }
}
