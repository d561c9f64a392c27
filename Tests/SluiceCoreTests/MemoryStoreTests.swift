import Foundation
import SluiceCore
import SluiceTesting
import Testing

@Suite("Memory stores")
struct MemoryStoreTests {
    @Test("MemoryMetadataStore conformance", arguments: MetadataStoreConformance.checks)
    func metadataConformance(_ check: MetadataStoreConformance.Check) async throws {
        try await check.run(MemoryMetadataStore())
    }

    @Test("MemoryBlobStore conformance", arguments: BlobStoreConformance.checks)
    func blobConformance(_ check: BlobStoreConformance.Check) async throws {
        try await check.run(MemoryBlobStore(chunkSize: 4096))
    }

    @Test("MemoryBlobStore rejects bytes that do not match the sha256")
    func memoryBlobStoreVerifiesHash() async throws {
        let blobs = try BlobStoreConformance.fixtureBlobs()
        let store = MemoryBlobStore()
        // The .tar.bz2 file stored under the .conda file's sha256.
        do {
            try await store.put(sha256: blobs[0].sha256, from: blobs[1].file)
            Issue.record("a mismatching put succeeded")
        } catch let error as SluiceError {
            #expect(error.code == .invalidInput)
        }
        #expect(try await store.contains(sha256: blobs[0].sha256) == false)
        try await store.put(sha256: blobs[1].sha256, from: blobs[1].file)
        #expect(FileManager.default.fileExists(atPath: blobs[1].file.path), "the memory store leaves its source")
    }

    @Test("MemoryBlobStore yields chunks of the configured size")
    func memoryBlobStoreChunks() async throws {
        let blob = try #require(try BlobStoreConformance.fixtureBlobs().first)
        let store = MemoryBlobStore(chunkSize: 1000)
        try await store.put(sha256: blob.sha256, from: blob.file)
        guard case .chunks(let stream, let count) = try await store.read(sha256: blob.sha256, range: 100..<2600) else {
            Issue.record("expected chunks")
            return
        }
        #expect(count == 2500)
        var sizes: [Int] = []
        for try await chunk in stream { sizes.append(chunk.count) }
        #expect(sizes == [1000, 1000, 500])
    }
}
