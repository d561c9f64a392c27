import Foundation
import SluiceCore
import Testing

/// The behaviour every ``BlobStore`` must have, as a list of checks that a test target runs against each
/// implementation (memory, filesystem, later S3), each check on a fresh, empty store:
///
/// ```swift
/// @Test(arguments: BlobStoreConformance.checks)
/// func memory(_ check: BlobStoreConformance.Check) async throws {
///     try await check.run(MemoryBlobStore())
/// }
/// ```
///
/// The blobs are the real package files of the conda-format-repo fixture channel, whose sha256 and size come from
/// its `repodata.json`. Each put gets a fresh copy of the file (a store may move its source).
public enum BlobStoreConformance {
    /// One named check; `run` takes a fresh, empty store.
    public struct Check: Sendable, CustomStringConvertible {
        public var name: String
        public var run: @Sendable (any BlobStore) async throws -> Void
        public var description: String { name }
    }

    /// Every check.
    public static let checks: [Check] = [
        Check(name: "put, contains, size, read whole and ranges", run: putAndRead),
        Check(name: "put is idempotent", run: idempotentPut),
        Check(name: "delete is idempotent", run: delete),
        Check(name: "absent blobs", run: absent),
        Check(name: "malformed sha256 is rejected", run: invalidSHA256),
        Check(name: "ping", run: { try await $0.ping() }),
    ]

    /// A real package file and its content address.
    public struct Blob: Sendable {
        public var file: URL
        public var sha256: String
        public var size: Int64
    }

    /// The two files of zlib 1.2.11 in the conda-format-repo fixture channel, with sha256 and size from its repodata.
    public static func fixtureBlobs() throws -> [Blob] {
        let folder = Fixtures.condaFormatRepo.appendingPathComponent("linux-64", isDirectory: true)
        let repodata = try JSONValue.parse(Array(try Data(contentsOf: folder.appendingPathComponent("repodata.json"))))
        return try [("packages.conda", "zlib-1.2.11-h7b6447c_3.conda"), ("packages", "zlib-1.2.11-h7b6447c_3.tar.bz2")]
            .map { key, filename in
                let record = try #require(repodata[key]?[filename])
                return Blob(
                    file: folder.appendingPathComponent(filename),
                    sha256: try #require(record["sha256"]?.stringValue),
                    size: try #require(record["size"]?.intValue))
            }
    }

    /// Copies `blob`'s file to a fresh temporary path (a put may move its source).
    static func freshCopy(of blob: Blob) throws -> URL {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("sluice-blob-conformance-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let copy = folder.appendingPathComponent(blob.file.lastPathComponent)
        try FileManager.default.copyItem(at: blob.file, to: copy)
        return copy
    }

    static func put(_ blob: Blob, into store: any BlobStore) async throws {
        let copy = try freshCopy(of: blob)
        defer { try? FileManager.default.removeItem(at: copy.deletingLastPathComponent()) }
        try await store.put(sha256: blob.sha256, from: copy)
    }

    /// All bytes of `content`, from its file or its chunks.
    public static func bytes(of content: BlobContent) async throws -> Data {
        switch content {
        case .file(let url, let range):
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            try handle.seek(toOffset: UInt64(range.lowerBound))
            let data = try handle.read(upToCount: Int(range.count)) ?? Data()
            #expect(data.count == range.count, "the file is shorter than the range")
            return data
        case .chunks(let stream, let count):
            var data = Data()
            for try await chunk in stream { data.append(chunk) }
            #expect(Int64(data.count) == count, "the chunks do not add up to the announced count")
            return data
        }
    }

    // MARK: Checks

    static func putAndRead(_ store: any BlobStore) async throws {
        let blobs = try fixtureBlobs()
        for blob in blobs {
            #expect(try await store.contains(sha256: blob.sha256) == false)
            try await put(blob, into: store)
        }
        for blob in blobs {
            let original = try Data(contentsOf: blob.file)
            #expect(Int64(original.count) == blob.size, "fixture and repodata disagree")
            #expect(try await store.contains(sha256: blob.sha256))
            #expect(try await store.size(sha256: blob.sha256) == blob.size)
            #expect(try await bytes(of: store.read(sha256: blob.sha256, range: nil)) == original)

            let ranges: [Range<Int64>] = [0..<1, 0..<blob.size, 10..<1000, (blob.size - 7)..<blob.size, 500..<500]
            for range in ranges {
                let expected = original.subdata(in: Int(range.lowerBound)..<Int(range.upperBound))
                #expect(
                    try await bytes(of: store.read(sha256: blob.sha256, range: range)) == expected, "range \(range)")
            }
            await expectError(.rangeNotSatisfiable) {
                _ = try await store.read(sha256: blob.sha256, range: (blob.size - 1)..<(blob.size + 1))
            }
            await expectError(.rangeNotSatisfiable) {
                _ = try await store.read(sha256: blob.sha256, range: (blob.size + 10)..<(blob.size + 20))
            }
        }
    }

    static func idempotentPut(_ store: any BlobStore) async throws {
        let blob = try #require(try fixtureBlobs().first)
        try await put(blob, into: store)
        try await put(blob, into: store)
        // Concurrent puts of the same blob all succeed and leave one complete blob.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask { try await put(blob, into: store) }
            }
            try await group.waitForAll()
        }
        #expect(try await store.size(sha256: blob.sha256) == blob.size)
        #expect(try await bytes(of: store.read(sha256: blob.sha256, range: nil)) == Data(contentsOf: blob.file))
    }

    static func delete(_ store: any BlobStore) async throws {
        let blobs = try fixtureBlobs()
        for blob in blobs { try await put(blob, into: store) }
        let (gone, kept) = (blobs[0], blobs[1])
        try await store.delete(sha256: gone.sha256)
        #expect(try await store.contains(sha256: gone.sha256) == false)
        #expect(try await store.size(sha256: gone.sha256) == nil)
        await expectError(.notFound) { _ = try await store.read(sha256: gone.sha256, range: nil) }
        try await store.delete(sha256: gone.sha256)
        #expect(try await store.contains(sha256: kept.sha256), "deleting one blob leaves the others")

        // A deleted blob can be stored again.
        try await put(gone, into: store)
        #expect(try await store.size(sha256: gone.sha256) == gone.size)
    }

    static func absent(_ store: any BlobStore) async throws {
        let missing = String(repeating: "0", count: 64)
        #expect(try await store.contains(sha256: missing) == false)
        #expect(try await store.size(sha256: missing) == nil)
        await expectError(.notFound) { _ = try await store.read(sha256: missing, range: nil) }
        await expectError(.notFound) { _ = try await store.read(sha256: missing, range: 0..<1) }
        try await store.delete(sha256: missing)
    }

    static func invalidSHA256(_ store: any BlobStore) async throws {
        let blob = try #require(try fixtureBlobs().first)
        let malformed = [
            "", "../../../../etc/passwd", blob.sha256.uppercased(), String(blob.sha256.dropLast()), blob.sha256 + "0",
            "../" + blob.sha256.dropFirst(3), String(blob.sha256.dropLast(2)) + "/x", String(repeating: "g", count: 64),
        ]
        let copy = try freshCopy(of: blob)
        defer { try? FileManager.default.removeItem(at: copy.deletingLastPathComponent()) }
        for sha256 in malformed {
            await expectError(.invalidInput) { try await store.put(sha256: sha256, from: copy) }
            await expectError(.invalidInput) { _ = try await store.contains(sha256: sha256) }
            await expectError(.invalidInput) { _ = try await store.size(sha256: sha256) }
            await expectError(.invalidInput) { _ = try await store.read(sha256: sha256, range: nil) }
            await expectError(.invalidInput) { try await store.delete(sha256: sha256) }
        }
        #expect(FileManager.default.fileExists(atPath: copy.path), "a rejected put leaves its source alone")
        #expect(try await store.contains(sha256: blob.sha256) == false)
    }
}

/// Runs every ``BlobStoreConformance`` check, each on a fresh store from `makeStore`; `tearDown` runs after each.
public func runBlobStoreConformance(
    _ makeStore: () async throws -> any BlobStore,
    tearDown: (any BlobStore) async throws -> Void = { _ in }
) async throws {
    for check in BlobStoreConformance.checks {
        let store = try await makeStore()
        do {
            try await check.run(store)
        } catch {
            Issue.record("Check '\(check.name)' threw \(error)")
        }
        try await tearDown(store)
    }
}
