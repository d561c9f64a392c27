import Foundation

/// One member header of a tar archive, after PAX and GNU long-name records have been applied.
public struct TarEntry: Sendable, Hashable {
    /// What kind of member this is.
    public enum Kind: Sendable, Hashable {
        case file
        case directory
        case symbolicLink
        case hardLink
        /// Devices, FIFOs and types this reader does not interpret.
        case other(UInt8)
    }

    /// The member path, relative, without `./` prefixes (absolute paths and `..` are refused when reading).
    public var path: String
    public var kind: Kind
    /// The size of the member's data in bytes.
    public var size: Int
    /// The link target for links, otherwise empty.
    public var linkTarget: String
}

/// Reads a tar archive (ustar, with PAX extended headers and GNU long names) from a ``ByteSource``, member by member.
///
/// Call ``next()`` for each member's header, then optionally ``readContents(maxSize:)`` for its data; data not read
/// is skipped by the next ``next()``. The reader only moves forward and never holds more than one member's data, so a
/// caller can stop as soon as it has what it wants (as conda-index does for `info/`).
public struct TarReader<Source: ByteSource> {
    private var source: Source
    private var buffer: [UInt8] = []
    private var bufferPosition = 0
    /// Bytes of the current member's data (plus padding) not yet consumed.
    private var remainingData = 0
    private var remainingPadding = 0
    private var currentSize = 0
    private var ended = false
    /// Total bytes pulled from the source so far.
    public private(set) var bytesRead = 0

    /// The largest PAX header or GNU long name accepted (they hold a path, not content).
    public static var maximumExtendedHeaderSize: Int { 1 << 20 }

    /// Creates a reader over `source`, positioned before the first member.
    public init(source: Source) {
        self.source = source
    }

    /// Reads the next member header, skipping the rest of the current member's data.
    ///
    /// Returns nil at the end of the archive (a zero block, or the end of the stream at a member boundary).
    /// - Throws: `SluiceError.invalidPackage` when a header is corrupt (bad checksum, bad number), the stream ends
    ///   inside a member, or a path is absolute or contains `..`; whatever the source throws.
    public mutating func next() throws(SluiceError) -> TarEntry? {
        guard !ended else { return nil }
        try skip(remainingData + remainingPadding)
        remainingData = 0
        remainingPadding = 0
        var longName: String?
        var longLink: String?
        var paxPath: String?
        var paxLinkPath: String?
        var paxSize: Int?
        while true {
            guard let header = try readBlock(allowEndOfStream: true) else {
                // Some writers omit the two zero blocks; a clean end at a member boundary is still an end.
                ended = true
                return nil
            }
            if header.allSatisfy({ $0 == 0 }) {
                ended = true
                return nil
            }
            try verifyChecksum(header)
            let typeFlag = header[156]
            let size = try parseNumber(header, offset: 124, length: 12, field: "size")
            switch typeFlag {
            case UInt8(ascii: "x"), UInt8(ascii: "g"):
                let body = try readExtendedBody(size: size, what: "PAX header")
                if typeFlag == UInt8(ascii: "x") {
                    let records = try Self.parsePAX(body)
                    if let path = records["path"] { paxPath = path }
                    if let link = records["linkpath"] { paxLinkPath = link }
                    if let sizeText = records["size"] {
                        guard let value = Int(sizeText), value >= 0 else {
                            throw .invalidPackage("A tar PAX header has an invalid size '\(sizeText)'.")
                        }
                        paxSize = value
                    }
                }
                continue
            case UInt8(ascii: "L"), UInt8(ascii: "K"):
                let body = try readExtendedBody(size: size, what: "GNU long name")
                let trimmed = body.prefix { $0 != 0 }
                guard let text = String(validating: trimmed, as: UTF8.self) else {
                    throw .invalidPackage("A tar GNU long name is not valid UTF-8.")
                }
                if typeFlag == UInt8(ascii: "L") { longName = text } else { longLink = text }
                continue
            default:
                break
            }
            let rawPath: String
            if let paxPath {
                rawPath = paxPath
            } else if let longName {
                rawPath = longName
            } else {
                let name = Self.string(header, offset: 0, length: 100)
                let isUstar = header[257..<262].elementsEqual("ustar".utf8)
                let prefix =
                    isUstar && header[263] == UInt8(ascii: "0") ? Self.string(header, offset: 345, length: 155) : ""
                rawPath = prefix.isEmpty ? name : prefix + "/" + name
            }
            let path = try sanitizedMemberPath(rawPath, archiveKind: "tar archive")
            let linkTarget = paxLinkPath ?? longLink ?? Self.string(header, offset: 157, length: 100)
            let kind: TarEntry.Kind
            switch typeFlag {
            case 0, UInt8(ascii: "0"), UInt8(ascii: "7"): kind = .file
            case UInt8(ascii: "1"): kind = .hardLink
            case UInt8(ascii: "2"): kind = .symbolicLink
            case UInt8(ascii: "5"): kind = .directory
            default: kind = .other(typeFlag)
            }
            let dataSize: Int
            switch kind {
            case .file, .other: dataSize = paxSize ?? size
            // Links and directories carry no data, whatever the size field says (hard links in PAX may say).
            case .directory, .symbolicLink, .hardLink: dataSize = 0
            }
            currentSize = dataSize
            remainingData = dataSize
            remainingPadding = (512 - dataSize % 512) % 512
            return TarEntry(path: path, kind: kind, size: dataSize, linkTarget: linkTarget)
        }
    }

    /// Reads the current member's data, refusing members over `maxSize` bytes.
    /// - Throws: `SluiceError.invalidPackage` when the member is larger than `maxSize` or the stream ends inside it.
    public mutating func readContents(maxSize: Int) throws(SluiceError) -> [UInt8] {
        guard currentSize <= maxSize else {
            throw .invalidPackage(
                "A tar member is \(currentSize) bytes, over the \(maxSize)-byte limit for package metadata.")
        }
        let bytes = try readExact(remainingData)
        remainingData = 0
        return bytes
    }

    // MARK: - Reading

    private mutating func fill() throws(SluiceError) -> Bool {
        if bufferPosition >= buffer.count {
            buffer = try source.read(upTo: 64 * 1024)
            bufferPosition = 0
            bytesRead += buffer.count
        }
        return !buffer.isEmpty
    }

    private mutating func readExact(_ count: Int) throws(SluiceError) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(count)
        while result.count < count {
            guard try fill() else {
                throw .invalidPackage(
                    "The tar archive is truncated: it ends inside a member. Upload the complete file.")
            }
            let take = min(count - result.count, buffer.count - bufferPosition)
            result.append(contentsOf: buffer[bufferPosition..<(bufferPosition + take)])
            bufferPosition += take
        }
        return result
    }

    private mutating func skip(_ count: Int) throws(SluiceError) {
        var left = count
        while left > 0 {
            guard try fill() else {
                throw .invalidPackage(
                    "The tar archive is truncated: it ends inside a member. Upload the complete file.")
            }
            let take = min(left, buffer.count - bufferPosition)
            bufferPosition += take
            left -= take
        }
    }

    private mutating func readBlock(allowEndOfStream: Bool) throws(SluiceError) -> [UInt8]? {
        if allowEndOfStream, try !fill() { return nil }
        return try readExact(512)
    }

    private mutating func readExtendedBody(size: Int, what: String) throws(SluiceError) -> [UInt8] {
        guard size <= Self.maximumExtendedHeaderSize else {
            throw .invalidPackage("A tar \(what) is \(size) bytes, more than any path needs; the archive is corrupt.")
        }
        let body = try readExact(size)
        try skip((512 - size % 512) % 512)
        return body
    }

    // MARK: - Parsing

    private func verifyChecksum(_ header: [UInt8]) throws(SluiceError) {
        let stored = try parseNumber(header, offset: 148, length: 8, field: "checksum")
        var unsigned = 0
        var signed = 0
        for (index, byte) in header.enumerated() {
            let value = (148..<156).contains(index) ? 0x20 : byte
            unsigned += Int(value)
            signed += Int(Int8(bitPattern: value))
        }
        guard stored == unsigned || stored == signed else {
            throw .invalidPackage(
                "A tar header checksum does not match (at byte \(bytesRead - (buffer.count - bufferPosition) - 512)); "
                    + "the archive is corrupt or not a tar.")
        }
    }

    /// Parses an octal field (NUL/space terminated), or a GNU base-256 number when the high bit of the first byte is
    /// set.
    private func parseNumber(_ header: [UInt8], offset: Int, length: Int, field: String) throws(SluiceError) -> Int {
        let bytes = header[offset..<(offset + length)]
        if let first = bytes.first, first & 0x80 != 0 {
            guard first == 0x80 else {
                throw .invalidPackage("A tar header has a negative or oversized \(field).")
            }
            var value: UInt64 = 0
            for byte in bytes.dropFirst() {
                guard value >> 55 == 0 else {
                    throw .invalidPackage("A tar header has an oversized \(field).")
                }
                value = value << 8 | UInt64(byte)
            }
            guard value <= UInt64(Int.max) else { throw .invalidPackage("A tar header has an oversized \(field).") }
            return Int(value)
        }
        var value = 0
        var seenDigit = false
        for byte in bytes {
            if byte == 0 || (byte == UInt8(ascii: " ") && seenDigit) { break }
            if byte == UInt8(ascii: " ") { continue }
            guard (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(byte) else {
                throw .invalidPackage(
                    "A tar header has an invalid \(field) field; the archive is corrupt or not a tar.")
            }
            value = value * 8 + Int(byte - UInt8(ascii: "0"))
            seenDigit = true
        }
        return value
    }

    private static func string(_ header: [UInt8], offset: Int, length: Int) -> String {
        let field = header[offset..<(offset + length)].prefix { $0 != 0 }
        return String(decoding: field, as: UTF8.self)
    }

    /// Parses PAX records `"<length> <key>=<value>\n"`.
    static func parsePAX(_ body: [UInt8]) throws(SluiceError) -> [String: String] {
        var records: [String: String] = [:]
        var position = 0
        while position < body.count {
            if body[position] == 0 { break }
            var lengthEnd = position
            while lengthEnd < body.count, body[lengthEnd] != UInt8(ascii: " ") { lengthEnd += 1 }
            guard lengthEnd < body.count,
                let length = Int(String(decoding: body[position..<lengthEnd], as: UTF8.self)),
                length > lengthEnd - position + 1, position + length <= body.count,
                body[position + length - 1] == UInt8(ascii: "\n")
            else {
                throw .invalidPackage("A tar PAX header record is malformed; the archive is corrupt.")
            }
            let record = body[(lengthEnd + 1)..<(position + length - 1)]
            guard let equals = record.firstIndex(of: UInt8(ascii: "=")),
                let key = String(validating: record[..<equals], as: UTF8.self),
                let value = String(validating: record[(equals + 1)...], as: UTF8.self)
            else {
                throw .invalidPackage("A tar PAX header record is malformed or not UTF-8.")
            }
            records[key] = value
            position += length
        }
        return records
    }
}
