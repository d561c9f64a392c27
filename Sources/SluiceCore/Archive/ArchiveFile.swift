import Foundation

/// An open file read at explicit offsets, shared by the archive readers so that big packages are never loaded whole.
final class ArchiveFile {
    let url: URL
    let size: UInt64
    private let handle: FileHandle

    /// Opens `url` for reading.
    /// - Throws: `SluiceError.notFound` when the file does not exist, `.storageFailure` when it cannot be opened.
    init(url: URL) throws(SluiceError) {
        self.url = url
        do {
            handle = try FileHandle(forReadingFrom: url)
        } catch {
            if !FileManager.default.fileExists(atPath: url.path) {
                throw SluiceError(.notFound, "The file \(url.path) does not exist.", cause: error)
            }
            throw SluiceError(.storageFailure, "Could not open \(url.path) for reading.", cause: error)
        }
        do {
            size = try handle.seekToEnd()
        } catch {
            try? handle.close()
            throw SluiceError(.storageFailure, "Could not determine the size of \(url.path).", cause: error)
        }
    }

    deinit {
        try? handle.close()
    }

    /// Reads up to `count` bytes at `offset` (fewer only at the end of the file).
    /// - Throws: `SluiceError.storageFailure` when the read fails.
    func read(at offset: UInt64, upTo count: Int) throws(SluiceError) -> [UInt8] {
        guard count > 0, offset < size else { return [] }
        do {
            try handle.seek(toOffset: offset)
            var result: [UInt8] = []
            result.reserveCapacity(count)
            while result.count < count {
                guard let data = try handle.read(upToCount: count - result.count), !data.isEmpty else { break }
                result.append(contentsOf: data)
            }
            return result
        } catch {
            throw SluiceError(.storageFailure, "Could not read \(url.path) at offset \(offset).", cause: error)
        }
    }

    /// Reads exactly `count` bytes at `offset`.
    /// - Throws: `SluiceError.invalidPackage` naming `what` when the file ends first, `.storageFailure` on I/O errors.
    func read(at offset: UInt64, exactly count: Int, what: String) throws(SluiceError) -> [UInt8] {
        let bytes = try read(at: offset, upTo: count)
        guard bytes.count == count else {
            throw .invalidPackage(
                "The archive is truncated: \(what) at byte \(offset) needs \(count) bytes but the file is only "
                    + "\(size) bytes long. Upload the complete file.")
        }
        return bytes
    }
}

/// A ``ByteSource`` over one byte range of a file (a stored zip member, or a whole `.tar.bz2`).
public struct FileRangeSource: ByteSource {
    private let file: ArchiveFile
    private var position: UInt64
    private let end: UInt64

    init(file: ArchiveFile, range: Range<UInt64>) {
        self.file = file
        self.position = range.lowerBound
        self.end = range.upperBound
    }

    /// Opens `url` and reads it from start to end.
    /// - Throws: `SluiceError.notFound` or `.storageFailure` when the file cannot be opened.
    public init(file url: URL) throws(SluiceError) {
        let file = try ArchiveFile(url: url)
        self.init(file: file, range: 0..<file.size)
    }

    /// Reads the next bytes of the range.
    /// - Throws: `SluiceError.invalidPackage` when the file is shorter than the range, `.storageFailure` on I/O
    ///   errors.
    public mutating func read(upTo maxCount: Int) throws(SluiceError) -> [UInt8] {
        guard position < end else { return [] }
        let count = Int(min(UInt64(max(1, maxCount)), end - position))
        let bytes = try file.read(at: position, upTo: count)
        guard !bytes.isEmpty else {
            throw .invalidPackage(
                "The archive is truncated: expected data up to byte \(end) but the file ends at \(file.size).")
        }
        position += UInt64(bytes.count)
        return bytes
    }
}

/// Little-endian field access into a byte buffer whose length the caller has checked.
extension Array where Element == UInt8 {
    func littleEndianUInt16(at offset: Int) -> UInt16 {
        UInt16(self[offset]) | UInt16(self[offset + 1]) << 8
    }

    func littleEndianUInt32(at offset: Int) -> UInt32 {
        UInt32(littleEndianUInt16(at: offset)) | UInt32(littleEndianUInt16(at: offset + 2)) << 16
    }

    func littleEndianUInt64(at offset: Int) -> UInt64 {
        UInt64(littleEndianUInt32(at: offset)) | UInt64(littleEndianUInt32(at: offset + 4)) << 32
    }
}

/// Checks a member path from an archive: refuses absolute paths, `..` segments, NUL bytes and backslashes.
///
/// Returns the path with leading `./` segments and empty segments removed.
/// - Throws: `SluiceError.invalidPackage` naming the offending path.
func sanitizedMemberPath(_ path: String, archiveKind: String) throws(SluiceError) -> String {
    let bytes = Array(path.utf8.prefix(2))
    let hasDriveLetter =
        bytes.count == 2 && bytes[1] == UInt8(ascii: ":")
        && (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(bytes[0] & 0xDF)
    if path.hasPrefix("/") || path.hasPrefix("\\") || path.contains("\0") || hasDriveLetter {
        throw .invalidPackage(
            "The \(archiveKind) holds an entry with an absolute path ('\(path)'); conda packages hold only paths "
                + "relative to the environment prefix. Rebuild the package.")
    }
    let segments = path.split(separator: "/", omittingEmptySubsequences: true)
    if segments.contains(where: { $0 == ".." || $0.contains("\\") && $0.split(separator: "\\").contains("..") }) {
        throw .invalidPackage(
            "The \(archiveKind) holds an entry whose path contains '..' ('\(path)'), which could write outside the "
                + "environment. Rebuild the package.")
    }
    return segments.filter { $0 != "." }.joined(separator: "/")
}
