import Foundation

/// Reads the directory and stored members of a zip file (the container of a `.conda` package) without loading the
/// file into memory.
///
/// Members are located through the central directory found via the end-of-central-directory record (and the ZIP64
/// locator and record when present), never by scanning local headers, because `.conda` member order varies.
/// Only `STORED` members can be read: `.conda` never compresses at the zip level.
public struct ZipReader {
    /// One member as the central directory describes it.
    public struct Entry: Sendable, Hashable {
        /// The member's path inside the zip.
        public var name: String
        /// The zip compression method (0 = stored, 8 = deflate, ...).
        public var compressionMethod: UInt16
        public var compressedSize: UInt64
        public var uncompressedSize: UInt64
        /// Where the member's local header starts.
        public var localHeaderOffset: UInt64
        /// General purpose flag bit 0: the member is encrypted.
        public var isEncrypted: Bool
    }

    /// The members in central directory order.
    public let entries: [Entry]
    private let file: ArchiveFile
    /// Where the central directory starts; member data must lie before it.
    private let centralDirectoryOffset: UInt64

    private static let endOfCentralDirectorySignature: UInt32 = 0x0605_4b50
    private static let zip64LocatorSignature: UInt32 = 0x0706_4b50
    private static let zip64EndSignature: UInt32 = 0x0606_4b50
    private static let centralHeaderSignature: UInt32 = 0x0201_4b50
    private static let localHeaderSignature: UInt32 = 0x0403_4b50
    /// More members than any `.conda` has by far; bounds the work a hostile directory can cause.
    private static let maximumEntryCount: UInt64 = 65_536

    /// Opens `url` and reads its central directory.
    /// - Throws: `SluiceError.invalidPackage` when the file is not a zip or its directory is truncated or
    ///   inconsistent (offsets outside the file, a path that is absolute or contains `..`); `.notFound` or
    ///   `.storageFailure` when the file cannot be read.
    public init(file url: URL) throws(SluiceError) {
        try self.init(file: ArchiveFile(url: url))
    }

    init(file: ArchiveFile) throws(SluiceError) {
        self.file = file
        let fileSize = file.size
        guard fileSize >= 22 else {
            throw .invalidPackage(
                "The file is too short (\(fileSize) bytes) to be a zip archive; a .conda file is a zip. "
                    + "Upload the complete file.")
        }
        // The end record is 22 bytes plus a comment of up to 65,535 bytes at the very end of the file.
        let tailLength = Int(min(fileSize, 22 + 65_535))
        let tailStart = fileSize - UInt64(tailLength)
        let tail = try file.read(at: tailStart, exactly: tailLength, what: "the end of the zip")
        var endIndex: Int?
        var index = tail.count - 22
        while index >= 0 {
            if tail.littleEndianUInt32(at: index) == Self.endOfCentralDirectorySignature {
                let commentLength = Int(tail.littleEndianUInt16(at: index + 20))
                if index + 22 + commentLength <= tail.count {
                    endIndex = index
                    break
                }
            }
            index -= 1
        }
        guard let endIndex else {
            throw .invalidPackage(
                "No zip end-of-central-directory record was found, so the .conda file is truncated or not a zip. "
                    + "Upload the complete file.")
        }
        let endOffset = tailStart + UInt64(endIndex)
        var entryCount = UInt64(tail.littleEndianUInt16(at: endIndex + 10))
        var directorySize = UInt64(tail.littleEndianUInt32(at: endIndex + 12))
        var directoryOffset = UInt64(tail.littleEndianUInt32(at: endIndex + 16))

        // ZIP64: a locator sits right before the end record and points at the ZIP64 end record.
        if endOffset >= 20 {
            let locator = try file.read(at: endOffset - 20, exactly: 20, what: "the ZIP64 locator")
            if locator.littleEndianUInt32(at: 0) == Self.zip64LocatorSignature {
                let recordOffset = locator.littleEndianUInt64(at: 8)
                guard recordOffset <= endOffset - 20, endOffset - 20 - recordOffset >= 56 else {
                    throw .invalidPackage(
                        "The zip's ZIP64 locator points outside the file (offset \(recordOffset)); the archive is "
                            + "corrupt.")
                }
                let record = try file.read(at: recordOffset, exactly: 56, what: "the ZIP64 end record")
                guard record.littleEndianUInt32(at: 0) == Self.zip64EndSignature else {
                    throw .invalidPackage("The zip's ZIP64 end record is missing or corrupt.")
                }
                entryCount = record.littleEndianUInt64(at: 32)
                directorySize = record.littleEndianUInt64(at: 40)
                directoryOffset = record.littleEndianUInt64(at: 48)
            }
        }
        guard entryCount <= Self.maximumEntryCount else {
            throw .invalidPackage("The zip claims \(entryCount) members; a .conda holds three.")
        }
        guard directoryOffset <= endOffset, directorySize <= endOffset - directoryOffset,
            directorySize <= 64 * 1024 * 1024
        else {
            throw .invalidPackage(
                "The zip's central directory (offset \(directoryOffset), \(directorySize) bytes) lies outside the "
                    + "file; the archive is truncated or corrupt. Upload the complete file.")
        }
        let directory = try file.read(
            at: directoryOffset, exactly: Int(directorySize), what: "the zip central directory")
        var entries: [Entry] = []
        var position = 0
        for _ in 0..<entryCount {
            guard position + 46 <= directory.count,
                directory.littleEndianUInt32(at: position) == Self.centralHeaderSignature
            else {
                throw .invalidPackage(
                    "The zip's central directory is truncated or corrupt (entry \(entries.count + 1) of "
                        + "\(entryCount)).")
            }
            let flags = directory.littleEndianUInt16(at: position + 8)
            let method = directory.littleEndianUInt16(at: position + 10)
            var compressedSize = UInt64(directory.littleEndianUInt32(at: position + 20))
            var uncompressedSize = UInt64(directory.littleEndianUInt32(at: position + 24))
            let nameLength = Int(directory.littleEndianUInt16(at: position + 28))
            let extraLength = Int(directory.littleEndianUInt16(at: position + 30))
            let commentLength = Int(directory.littleEndianUInt16(at: position + 32))
            var localOffset = UInt64(directory.littleEndianUInt32(at: position + 42))
            let nameStart = position + 46
            let extraStart = nameStart + nameLength
            let next = extraStart + extraLength + commentLength
            guard next <= directory.count else {
                throw .invalidPackage("The zip's central directory entry \(entries.count + 1) runs past its end.")
            }
            guard let rawName = String(validating: directory[nameStart..<extraStart], as: UTF8.self) else {
                throw .invalidPackage("A zip member name is not valid UTF-8.")
            }
            // ZIP64 extended information: the 8-byte values replace the 32-bit fields that are all ones, in order.
            var extra = extraStart
            while extra + 4 <= extraStart + extraLength {
                let headerID = directory.littleEndianUInt16(at: extra)
                let dataSize = Int(directory.littleEndianUInt16(at: extra + 2))
                let dataStart = extra + 4
                guard dataStart + dataSize <= extraStart + extraLength else { break }
                if headerID == 0x0001 {
                    var field = dataStart
                    func next64() throws(SluiceError) -> UInt64 {
                        guard field + 8 <= dataStart + dataSize else {
                            throw .invalidPackage("A zip member's ZIP64 extra field is too short.")
                        }
                        defer { field += 8 }
                        return directory.littleEndianUInt64(at: field)
                    }
                    if uncompressedSize == 0xFFFF_FFFF { uncompressedSize = try next64() }
                    if compressedSize == 0xFFFF_FFFF { compressedSize = try next64() }
                    if localOffset == 0xFFFF_FFFF { localOffset = try next64() }
                }
                extra = dataStart + dataSize
            }
            let name = try sanitizedMemberPath(rawName, archiveKind: ".conda zip")
            guard localOffset < directoryOffset, compressedSize <= directoryOffset - localOffset else {
                throw .invalidPackage(
                    "The zip member '\(rawName)' lies outside the archive data (offset \(localOffset), "
                        + "\(compressedSize) bytes); the file is truncated or corrupt.")
            }
            entries.append(
                Entry(
                    name: name, compressionMethod: method, compressedSize: compressedSize,
                    uncompressedSize: uncompressedSize, localHeaderOffset: localOffset,
                    isEncrypted: flags & 1 != 0))
            position = next
        }
        self.entries = entries
        self.centralDirectoryOffset = directoryOffset
    }

    /// The member called `name`, if any.
    public func entry(named name: String) -> Entry? {
        entries.first { $0.name == name }
    }

    /// The byte range of a stored member's data, found by reading its local header.
    /// - Throws: `SluiceError.invalidPackage` when the member is compressed or encrypted, or its local header is
    ///   missing or places the data outside the file.
    public func dataRange(of entry: Entry) throws(SluiceError) -> Range<UInt64> {
        guard !entry.isEncrypted else {
            throw .invalidPackage("The zip member '\(entry.name)' is encrypted; .conda members never are.")
        }
        guard entry.compressionMethod == 0 else {
            throw .invalidPackage(
                "The zip member '\(entry.name)' is compressed with zip method \(entry.compressionMethod); .conda "
                    + "members must be STORED (the tarballs inside are already zstd-compressed). Recreate the "
                    + "package with conda-build, rattler-build or conda-package-handling.")
        }
        guard entry.compressedSize == entry.uncompressedSize else {
            throw .invalidPackage(
                "The stored zip member '\(entry.name)' has different compressed and uncompressed sizes; the zip is "
                    + "corrupt.")
        }
        let header = try file.read(at: entry.localHeaderOffset, exactly: 30, what: "a zip local header")
        guard header.littleEndianUInt32(at: 0) == Self.localHeaderSignature else {
            throw .invalidPackage(
                "The zip member '\(entry.name)' has no local header at offset \(entry.localHeaderOffset); the zip "
                    + "is corrupt.")
        }
        let nameLength = UInt64(header.littleEndianUInt16(at: 26))
        let extraLength = UInt64(header.littleEndianUInt16(at: 28))
        let start = entry.localHeaderOffset + 30 + nameLength + extraLength
        guard start <= centralDirectoryOffset, entry.compressedSize <= centralDirectoryOffset - start else {
            throw .invalidPackage(
                "The zip member '\(entry.name)' runs past the start of the central directory; the zip is corrupt.")
        }
        return start..<(start + entry.compressedSize)
    }

    /// A source that streams a stored member's bytes from the file.
    /// - Throws: as ``dataRange(of:)``.
    public func source(for entry: Entry) throws(SluiceError) -> FileRangeSource {
        FileRangeSource(file: file, range: try dataRange(of: entry))
    }

    /// Reads a whole stored member, refusing members over `maxSize` bytes.
    /// - Throws: `SluiceError.invalidPackage` when the member is larger than `maxSize`, or as ``dataRange(of:)``.
    public func contents(of entry: Entry, maxSize: Int) throws(SluiceError) -> [UInt8] {
        guard entry.uncompressedSize <= UInt64(maxSize) else {
            throw .invalidPackage(
                "The zip member '\(entry.name)' is \(entry.uncompressedSize) bytes, over the \(maxSize)-byte limit "
                    + "for metadata.")
        }
        let range = try dataRange(of: entry)
        return try file.read(at: range.lowerBound, exactly: Int(range.count), what: "zip member '\(entry.name)'")
    }
}
