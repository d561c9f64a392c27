import Crypto
import Foundation
import SluiceCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A ``BlobStore`` on the local filesystem: each blob is the file `<root>/<sha[0..2]>/<sha[2..4]>/<sha>`.
///
/// Uploads stream into ``temporaryFileURL()`` (in `<root>/../tmp`, on the same filesystem as the blobs) so that
/// ``put(sha256:from:)`` can move them into place with one `rename(2)`: a blob is either completely present or
/// absent. Files and directories are fsynced before a put returns.
public struct FileSystemBlobStore: BlobStore {
    /// How ``put(sha256:from:)`` brings a file into the store.
    enum MoveStrategy: Sendable {
        /// `rename(2)`, falling back to copying when the source is on another filesystem.
        case renameOrCopy
        /// Always copy (to test the fallback).
        case copy
    }

    /// The folder holding the blob shards.
    public let root: URL
    /// The folder for uploads in progress (`<root>/../tmp`).
    public let temporaryDirectory: URL
    let moveStrategy: MoveStrategy

    /// Opens (creating if needed) a store at `root` and its `<root>/../tmp` folder, and removes `*.part` files older
    /// than an hour from that folder (left by uploads that crashed).
    /// - Throws: `SluiceError(.storageFailure)` if the folders cannot be created.
    public init(root: URL) throws {
        try self.init(root: root, moveStrategy: .renameOrCopy)
    }

    init(root: URL, moveStrategy: MoveStrategy) throws {
        self.root = root.standardizedFileURL
        self.temporaryDirectory = self.root.deletingLastPathComponent().appendingPathComponent("tmp", isDirectory: true)
        self.moveStrategy = moveStrategy
        do {
            try FileManager.default.createDirectory(at: self.root, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: temporaryDirectory, withIntermediateDirectories: true)
        } catch {
            throw SluiceError(
                .storageFailure, "Cannot create the blob folders under '\(self.root.path)'; check the data directory.",
                cause: error)
        }
        removeStalePartFiles(olderThan: 3600)
    }

    /// A fresh, unique path `<root>/../tmp/<uuid>.part` for an upload to stream into. Nothing is created there.
    public func temporaryFileURL() -> URL {
        temporaryDirectory.appendingPathComponent(UUID().uuidString.lowercased() + ".part", isDirectory: false)
    }

    /// The path at which the blob `sha256` is (or would be) stored. The sha256 must have been validated.
    func blobURL(sha256: String) -> URL {
        let characters = Array(sha256)
        return
            root
            .appendingPathComponent(String(characters[0..<2]), isDirectory: true)
            .appendingPathComponent(String(characters[2..<4]), isDirectory: true)
            .appendingPathComponent(sha256, isDirectory: false)
    }

    // MARK: BlobStore

    /// Moves `file` into the store under `sha256` (rename on the same filesystem; else copy, fsync, rename, and the
    /// source is removed). A no-op when the blob exists already; the source is then left in place.
    /// - Throws: `.invalidInput` if `sha256` is not 64 lowercase hex digits, or (when copying across filesystems,
    ///   which hashes the bytes) if the bytes do not match it; `.storageFailure` if the filesystem fails.
    public func put(sha256: String, from file: URL) async throws {
        try ContentAddress.validate(sha256: sha256)
        let destination = blobURL(sha256: sha256)
        if Self.fileExists(destination) { return }
        let folder = destination.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw SluiceError(.storageFailure, "Cannot create the blob folder '\(folder.path)'.", cause: error)
        }
        if moveStrategy == .renameOrCopy {
            try Self.fsyncFile(at: file)
            if rename(file.path, destination.path) == 0 {
                try Self.fsyncDirectory(folder)
                return
            }
            let code = errno
            guard code == EXDEV else {
                throw Self.posixFailure("Cannot move '\(file.path)' to '\(destination.path)'", code: code)
            }
        }
        try Self.copyVerifying(file, into: folder, as: destination, sha256: sha256)
        try Self.fsyncDirectory(folder)
        try? FileManager.default.removeItem(at: file)
    }

    /// Whether the blob exists. Throws `.invalidInput` for a malformed sha256.
    public func contains(sha256: String) async throws -> Bool {
        try ContentAddress.validate(sha256: sha256)
        return Self.fileExists(blobURL(sha256: sha256))
    }

    /// The blob's size in bytes, or nil if absent. Throws `.invalidInput` for a malformed sha256.
    public func size(sha256: String) async throws -> Int64? {
        try ContentAddress.validate(sha256: sha256)
        return try Self.fileSize(blobURL(sha256: sha256))
    }

    /// The blob's file and the byte range to serve (all of it when `range` is nil).
    /// - Throws: `.notFound` if absent, `.rangeNotSatisfiable` if `range` does not lie inside the blob,
    ///   `.invalidInput` for a malformed sha256.
    public func read(sha256: String, range: Range<Int64>?) async throws -> BlobContent {
        try ContentAddress.validate(sha256: sha256)
        let url = blobURL(sha256: sha256)
        guard let size = try Self.fileSize(url) else {
            throw SluiceError.notFound("There is no blob \(sha256).")
        }
        return .file(url, range: try ContentAddress.checkedRange(range, size: size))
    }

    /// Removes the blob; no error if absent.
    /// - Throws: `.invalidInput` for a malformed sha256, `.storageFailure` if the file cannot be removed.
    public func delete(sha256: String) async throws {
        try ContentAddress.validate(sha256: sha256)
        let url = blobURL(sha256: sha256)
        if unlink(url.path) != 0 {
            let code = errno
            guard code == ENOENT else { throw Self.posixFailure("Cannot delete blob '\(url.path)'", code: code) }
        }
    }

    /// Checks that the blob folder exists and is writable.
    /// - Throws: `.storageFailure` otherwise.
    public func ping() async throws {
        guard access(root.path, W_OK | X_OK) == 0 else {
            throw Self.posixFailure("The blob folder '\(root.path)' is not writable", code: errno)
        }
    }

    // MARK: Helpers

    private func removeStalePartFiles(olderThan age: TimeInterval) {
        let limit = Date().addingTimeInterval(-age)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: temporaryDirectory.path)) ?? []
        for name in names where name.hasSuffix(".part") {
            let url = temporaryDirectory.appendingPathComponent(name, isDirectory: false)
            let modified = (try? url.resourceValues(forKeys: [.contentModificationDateKey]))?.contentModificationDate
            if let modified, modified < limit {
                try? FileManager.default.removeItem(at: url)
            }
        }
    }

    private static func fileExists(_ url: URL) -> Bool {
        var info = stat()
        return stat(url.path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    private static func fileSize(_ url: URL) throws -> Int64? {
        var info = stat()
        guard stat(url.path, &info) == 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { return nil }
            throw posixFailure("Cannot stat '\(url.path)'", code: code)
        }
        return Int64(info.st_size)
    }

    private static func fsyncFile(at url: URL) throws {
        let descriptor = open(url.path, O_RDONLY)
        guard descriptor >= 0 else { throw posixFailure("Cannot open '\(url.path)'", code: errno) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw posixFailure("Cannot fsync '\(url.path)'", code: errno) }
    }

    private static func fsyncDirectory(_ url: URL) throws {
        let descriptor = open(url.path, O_RDONLY | O_DIRECTORY)
        guard descriptor >= 0 else { throw posixFailure("Cannot open folder '\(url.path)'", code: errno) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw posixFailure("Cannot fsync folder '\(url.path)'", code: errno) }
    }

    /// Copies `source` to a temporary file in `folder`, hashing it, fsyncs it and renames it to `destination`.
    private static func copyVerifying(_ source: URL, into folder: URL, as destination: URL, sha256: String) throws {
        let temporary = folder.appendingPathComponent(".\(sha256).\(UUID().uuidString.lowercased()).tmp")
        let input = open(source.path, O_RDONLY)
        guard input >= 0 else { throw posixFailure("Cannot open '\(source.path)'", code: errno) }
        defer { close(input) }
        let output = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard output >= 0 else { throw posixFailure("Cannot create '\(temporary.path)'", code: errno) }
        var keep = false
        defer {
            close(output)
            if !keep { unlink(temporary.path) }
        }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { systemRead(input, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw posixFailure("Cannot read '\(source.path)'", code: errno)
            }
            if count == 0 { break }
            hasher.update(data: buffer[0..<count])
            var written = 0
            while written < count {
                let result = buffer.withUnsafeBytes { write(output, $0.baseAddress! + written, count - written) }
                if result < 0 {
                    if errno == EINTR { continue }
                    throw posixFailure("Cannot write '\(temporary.path)'", code: errno)
                }
                written += result
            }
        }
        let actual = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        guard actual == sha256 else {
            throw SluiceError.invalidInput("The file's sha256 is \(actual), not \(sha256).")
        }
        guard fsync(output) == 0 else { throw posixFailure("Cannot fsync '\(temporary.path)'", code: errno) }
        guard rename(temporary.path, destination.path) == 0 else {
            throw posixFailure("Cannot move '\(temporary.path)' to '\(destination.path)'", code: errno)
        }
        keep = true
    }

    private static func posixFailure(_ what: String, code: Int32) -> SluiceError {
        let reason = String(cString: strerror(code))
        return SluiceError(
            .storageFailure, "\(what): \(reason).", cause: POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO))
    }
}

/// `read(2)`, out of the reach of ``FileSystemBlobStore/read(sha256:range:)`` in name lookup.
private func systemRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(descriptor, buffer, count)
}
