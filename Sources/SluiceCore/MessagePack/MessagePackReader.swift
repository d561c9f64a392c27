import Foundation

/// Reads MessagePack into ``MessagePackValue``s: sharded repodata from an upstream (the index and shards a proxy
/// passes on or checks) and tests of what ``MessagePackWriter`` writes.
///
/// Every length is checked against the bytes that remain before anything is allocated, nesting is limited to
/// ``maximumDepth`` levels, and strings must be valid UTF-8, so hostile input fails with an error instead of a crash
/// or a huge allocation.
public struct MessagePackReader: Sendable {
    /// The deepest nesting of arrays and maps accepted.
    public static let maximumDepth = 256

    private let bytes: [UInt8]
    /// The offset of the next byte to read.
    public private(set) var position: Int

    /// Creates a reader at the start of `bytes`.
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.position = 0
    }

    /// Creates a reader at the start of `data`.
    public init(_ data: Data) {
        self.init([UInt8](data))
    }

    /// Whether every byte has been read.
    public var isAtEnd: Bool { position >= bytes.count }

    /// Decodes exactly one value that spans all of `bytes`.
    /// - Throws: `SluiceError.invalidInput` when the bytes are not one well-formed MessagePack value (truncated,
    ///   trailing bytes, a reserved type byte `0xC1`, invalid UTF-8, a map key that is not a string, too deep).
    public static func decode(_ bytes: [UInt8]) throws(SluiceError) -> MessagePackValue {
        var reader = MessagePackReader(bytes)
        let value = try reader.readValue()
        guard reader.isAtEnd else {
            throw SluiceError(
                .invalidInput,
                "MessagePack data has \(bytes.count - reader.position) bytes after its value at offset "
                    + "\(reader.position).")
        }
        return value
    }

    /// Decodes exactly one value that spans all of `data` (see ``decode(_:)-([UInt8])``).
    /// - Throws: `SluiceError.invalidInput` when the data is not one well-formed MessagePack value.
    public static func decode(_ data: Data) throws(SluiceError) -> MessagePackValue {
        try decode([UInt8](data))
    }

    /// Reads the next value.
    /// - Throws: `SluiceError.invalidInput` when the bytes at ``position`` are not a well-formed value.
    public mutating func readValue() throws(SluiceError) -> MessagePackValue {
        try readValue(depth: 0)
    }

    private mutating func readValue(depth: Int) throws(SluiceError) -> MessagePackValue {
        let start = position
        let type = try readByte()
        switch type {
        case 0x00...0x7F: return .int(Int64(type))
        case 0x80...0x8F: return try readMap(count: Int(type & 0x0F), depth: depth)
        case 0x90...0x9F: return try readArray(count: Int(type & 0x0F), depth: depth)
        case 0xA0...0xBF: return .string(try readString(count: Int(type & 0x1F)))
        case 0xC0: return .null
        case 0xC2: return .bool(false)
        case 0xC3: return .bool(true)
        case 0xC4: return .binary(try readBytes(count: Int(try readBigEndian(UInt8.self))))
        case 0xC5: return .binary(try readBytes(count: Int(try readBigEndian(UInt16.self))))
        case 0xC6: return .binary(try readBytes(count: Int(try readBigEndian(UInt32.self))))
        case 0xC7: return try readExtension(count: Int(try readBigEndian(UInt8.self)))
        case 0xC8: return try readExtension(count: Int(try readBigEndian(UInt16.self)))
        case 0xC9: return try readExtension(count: Int(try readBigEndian(UInt32.self)))
        case 0xCA: return .double(Double(Float(bitPattern: try readBigEndian(UInt32.self))))
        case 0xCB: return .double(Double(bitPattern: try readBigEndian(UInt64.self)))
        case 0xCC: return .int(Int64(try readBigEndian(UInt8.self)))
        case 0xCD: return .int(Int64(try readBigEndian(UInt16.self)))
        case 0xCE: return .int(Int64(try readBigEndian(UInt32.self)))
        case 0xCF:
            let value = try readBigEndian(UInt64.self)
            return value <= UInt64(Int64.max) ? .int(Int64(value)) : .uint(value)
        case 0xD0: return .int(Int64(Int8(bitPattern: try readBigEndian(UInt8.self))))
        case 0xD1: return .int(Int64(Int16(bitPattern: try readBigEndian(UInt16.self))))
        case 0xD2: return .int(Int64(Int32(bitPattern: try readBigEndian(UInt32.self))))
        case 0xD3: return .int(Int64(bitPattern: try readBigEndian(UInt64.self)))
        case 0xD4: return try readExtension(count: 1)
        case 0xD5: return try readExtension(count: 2)
        case 0xD6: return try readExtension(count: 4)
        case 0xD7: return try readExtension(count: 8)
        case 0xD8: return try readExtension(count: 16)
        case 0xD9: return .string(try readString(count: Int(try readBigEndian(UInt8.self))))
        case 0xDA: return .string(try readString(count: Int(try readBigEndian(UInt16.self))))
        case 0xDB: return .string(try readString(count: Int(try readBigEndian(UInt32.self))))
        case 0xDC: return try readArray(count: Int(try readBigEndian(UInt16.self)), depth: depth)
        case 0xDD: return try readArray(count: Int(try readBigEndian(UInt32.self)), depth: depth)
        case 0xDE: return try readMap(count: Int(try readBigEndian(UInt16.self)), depth: depth)
        case 0xDF: return try readMap(count: Int(try readBigEndian(UInt32.self)), depth: depth)
        case 0xE0...0xFF: return .int(Int64(Int8(bitPattern: type)))
        default:
            throw SluiceError(.invalidInput, "MessagePack data has the reserved type byte 0xC1 at offset \(start).")
        }
    }

    private mutating func readArray(count: Int, depth: Int) throws(SluiceError) -> MessagePackValue {
        try checkDepth(depth)
        // Each element takes at least one byte.
        try require(count)
        var values: [MessagePackValue] = []
        values.reserveCapacity(count)
        for _ in 0..<count {
            values.append(try readValue(depth: depth + 1))
        }
        return .array(values)
    }

    private mutating func readMap(count: Int, depth: Int) throws(SluiceError) -> MessagePackValue {
        try checkDepth(depth)
        // Each entry takes at least two bytes.
        try require(count * 2)
        var map: [String: MessagePackValue] = [:]
        map.reserveCapacity(count)
        for _ in 0..<count {
            let keyOffset = position
            let key: String
            switch try readValue(depth: depth + 1) {
            case .string(let string):
                key = string
            case .binary(let raw):
                guard let string = String(validating: raw, as: UTF8.self) else {
                    throw SluiceError(
                        .invalidInput, "MessagePack map key at offset \(keyOffset) is binary that is not UTF-8.")
                }
                key = string
            default:
                throw SluiceError(.invalidInput, "MessagePack map key at offset \(keyOffset) is not a string.")
            }
            map[key] = try readValue(depth: depth + 1)
        }
        return .map(map)
    }

    private mutating func readString(count: Int) throws(SluiceError) -> String {
        let start = position
        try require(count)
        let slice = bytes[position..<position + count]
        position += count
        guard let string = String(validating: slice, as: UTF8.self) else {
            throw SluiceError(.invalidInput, "MessagePack string at offset \(start) is not valid UTF-8.")
        }
        return string
    }

    private mutating func readExtension(count: Int) throws(SluiceError) -> MessagePackValue {
        let type = Int8(bitPattern: try readByte())
        return .extension(type: type, data: try readBytes(count: count))
    }

    private mutating func readBytes(count: Int) throws(SluiceError) -> [UInt8] {
        try require(count)
        let result = Array(bytes[position..<position + count])
        position += count
        return result
    }

    @inline(__always)
    private mutating func readByte() throws(SluiceError) -> UInt8 {
        try require(1)
        let byte = bytes[position]
        position += 1
        return byte
    }

    @inline(__always)
    private mutating func readBigEndian<T: FixedWidthInteger & UnsignedInteger>(_: T.Type) throws(SluiceError) -> T {
        let size = MemoryLayout<T>.size
        try require(size)
        var value: T = 0
        for offset in 0..<size {
            value = value << 8 | T(bytes[position + offset])
        }
        position += size
        return value
    }

    @inline(__always)
    private func require(_ count: Int) throws(SluiceError) {
        guard count >= 0, bytes.count - position >= count else {
            throw SluiceError(
                .invalidInput,
                "MessagePack data is truncated: \(count) more bytes needed at offset \(position), "
                    + "\(bytes.count - position) left.")
        }
    }

    private func checkDepth(_ depth: Int) throws(SluiceError) {
        guard depth < Self.maximumDepth else {
            throw SluiceError(
                .invalidInput, "MessagePack data nests deeper than \(Self.maximumDepth) levels at offset \(position).")
        }
    }
}
