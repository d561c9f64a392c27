import Foundation
import SluiceCore
import SluiceTesting
import Testing

@testable import SluiceStorage

@Suite("FileSystemBlobStore")
struct FileSystemBlobStoreTests {
    @Test("conformance", arguments: BlobStoreConformance.checks)
    func conformance(_ check: BlobStoreConformance.Check) async throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        try await check.run(FileSystemBlobStore(root: folder.url.appendingPathComponent("blobs")))
    }

    @Test("conformance when always copying", arguments: BlobStoreConformance.checks)
    func conformanceCopying(_ check: BlobStoreConformance.Check) async throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        try await check.run(FileSystemBlobStore(root: folder.url.appendingPathComponent("blobs"), moveStrategy: .copy))
    }

    @Test("blobs live at <root>/<sha[0..2]>/<sha[2..4]>/<sha>, moved there from the upload folder")
    func layoutAndMove() async throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let store = try FileSystemBlobStore(root: folder.url.appendingPathComponent("data/blobs"))
        let blob = try #require(try BlobStoreConformance.fixtureBlobs().first)

        let upload = store.temporaryFileURL()
        #expect(
            upload.deletingLastPathComponent().standardizedFileURL.path
                == folder.url.appendingPathComponent("data/tmp").standardizedFileURL.path)
        #expect(upload.pathExtension == "part")
        #expect(upload != store.temporaryFileURL(), "each temporary path is new")
        #expect(FileManager.default.fileExists(atPath: upload.path) == false)
        try FileManager.default.copyItem(at: blob.file, to: upload)
        let inode = try FileManager.default.attributesOfItem(atPath: upload.path)[.systemFileNumber] as? UInt64

        try await store.put(sha256: blob.sha256, from: upload)
        let sha = blob.sha256
        let expected = folder.url.appendingPathComponent(
            "data/blobs/\(sha.prefix(2))/\(sha.dropFirst(2).prefix(2))/\(sha)")
        #expect(FileManager.default.fileExists(atPath: expected.path))
        #expect(FileManager.default.fileExists(atPath: upload.path) == false, "the upload was moved, not copied")
        let movedInode = try FileManager.default.attributesOfItem(atPath: expected.path)[.systemFileNumber] as? UInt64
        #expect(inode != nil && inode == movedInode, "rename keeps the inode")

        guard case .file(let url, let range) = try await store.read(sha256: sha, range: nil) else {
            Issue.record("a filesystem store reads as a file")
            return
        }
        #expect(url.standardizedFileURL.path == expected.standardizedFileURL.path)
        #expect(range == 0..<blob.size)
        #expect(try Data(contentsOf: url) == Data(contentsOf: blob.file))
    }

    @Test("a put of a blob that exists leaves the stored file and the source alone")
    func idempotentPutKeepsSource() async throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let store = try FileSystemBlobStore(root: folder.url.appendingPathComponent("blobs"))
        let blob = try #require(try BlobStoreConformance.fixtureBlobs().first)
        let first = store.temporaryFileURL()
        try FileManager.default.copyItem(at: blob.file, to: first)
        try await store.put(sha256: blob.sha256, from: first)

        let second = store.temporaryFileURL()
        try FileManager.default.copyItem(at: blob.file, to: second)
        try await store.put(sha256: blob.sha256, from: second)
        #expect(FileManager.default.fileExists(atPath: second.path))
        #expect(try await store.size(sha256: blob.sha256) == blob.size)
    }

    @Test("a file on another filesystem is copied, verified and its source removed")
    func crossFilesystem() async throws {
        let shm = URL(fileURLWithPath: "/dev/shm", isDirectory: true)
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let store = try FileSystemBlobStore(root: folder.url.appendingPathComponent("blobs"))
        let blobs = try BlobStoreConformance.fixtureBlobs()
        // /dev/shm is a tmpfs on Linux; elsewhere the fallback is still exercised by `moveStrategy: .copy`.
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: shm.path, isDirectory: &isFolder), isFolder.boolValue else {
            return
        }

        let source = shm.appendingPathComponent("sluice-test-\(UUID().uuidString).part")
        try FileManager.default.copyItem(at: blobs[0].file, to: source)
        defer { try? FileManager.default.removeItem(at: source) }
        try await store.put(sha256: blobs[0].sha256, from: source)
        #expect(FileManager.default.fileExists(atPath: source.path) == false)
        #expect(
            try await BlobStoreConformance.bytes(of: store.read(sha256: blobs[0].sha256, range: nil))
                == Data(contentsOf: blobs[0].file))

        // Copying hashes the bytes: another file under this sha256 is refused and nothing is stored.
        let wrong = shm.appendingPathComponent("sluice-test-\(UUID().uuidString).part")
        try FileManager.default.copyItem(at: blobs[1].file, to: wrong)
        defer { try? FileManager.default.removeItem(at: wrong) }
        let claimed = String(repeating: "0", count: 64)
        do {
            try await store.put(sha256: claimed, from: wrong)
            Issue.record("a mismatching copy was stored")
        } catch let error as SluiceError {
            #expect(error.code == .invalidInput)
        }
        #expect(try await store.contains(sha256: claimed) == false)
        #expect(FileManager.default.fileExists(atPath: wrong.path), "a refused source is left in place")
        let shard = store.blobURL(sha256: claimed).deletingLastPathComponent()
        #expect(try FileManager.default.contentsOfDirectory(atPath: shard.path).isEmpty, "no temporary file is left")
    }

    @Test("opening the store removes .part files older than an hour, and only those")
    func staleUploads() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let tmp = folder.url.appendingPathComponent("tmp", isDirectory: true)
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        let stale = tmp.appendingPathComponent("old.part")
        let fresh = tmp.appendingPathComponent("new.part")
        let other = tmp.appendingPathComponent("old.keep")
        for file in [stale, fresh, other] { try Data("x".utf8).write(to: file) }
        let twoHoursAgo = Date().addingTimeInterval(-7200)
        for file in [stale, other] {
            try FileManager.default.setAttributes([.modificationDate: twoHoursAgo], ofItemAtPath: file.path)
        }

        _ = try FileSystemBlobStore(root: folder.url.appendingPathComponent("blobs"))
        #expect(FileManager.default.fileExists(atPath: stale.path) == false)
        #expect(FileManager.default.fileExists(atPath: fresh.path))
        #expect(FileManager.default.fileExists(atPath: other.path))
    }

    @Test("a missing source file is a storage failure")
    func missingSource() async throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let store = try FileSystemBlobStore(root: folder.url.appendingPathComponent("blobs"))
        do {
            try await store.put(
                sha256: String(repeating: "1", count: 64), from: folder.url.appendingPathComponent("nope"))
            Issue.record("a put of a missing file succeeded")
        } catch let error as SluiceError {
            #expect(error.code == .storageFailure)
        }
    }

    @Test("a root that cannot be created is a storage failure")
    func unusableRoot() throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let file = folder.url.appendingPathComponent("file")
        try Data("x".utf8).write(to: file)
        do {
            _ = try FileSystemBlobStore(root: file.appendingPathComponent("blobs"))
            Issue.record("a store under a regular file opened")
        } catch let error as SluiceError {
            #expect(error.code == .storageFailure)
        }
    }

    @Test("whole-store conformance run")
    func runAll() async throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        var count = 0
        try await runBlobStoreConformance {
            count += 1
            return try FileSystemBlobStore(root: folder.url.appendingPathComponent("blobs-\(count)"))
        }
        #expect(count == BlobStoreConformance.checks.count)
    }
}
