import Foundation

/// Writes MessagePack (https://github.com/msgpack/msgpack/blob/master/spec.md) into a byte array.
///
/// Every value is written in its smallest encoding, as Python's `msgpack.packb` and Rust's `rmp_serde` do:
/// non-negative integers as positive fixint/uint8/16/32/64, negative ones as negative fixint/int8/16/32/64, strings as
/// fixstr/str8/16/32, bytes as bin8/16/32, floats as float64. Maps written from ``MessagePackValue`` or
/// ``JSONValue`` have their keys sorted by UTF-8 bytes, so equal values always give equal bytes (shards are named by
/// their hash, so this matters).
///
/// The low-level `write…` calls let callers stream large documents without building a value tree; a map or array
/// header must be followed by exactly `count` entries (two values per map entry).
public struct MessagePackWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]

    /// Creates an empty writer with room for `capacity` bytes.
    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Empties the writer, keeping its storage.
    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
    }

    // MARK: Scalars

    public mutating func writeNil() {
        bytes.append(0xC0)
    }

    public mutating func writeBool(_ value: Bool) {
        bytes.append(value ? 0xC3 : 0xC2)
    }

    /// Writes an integer in the smallest encoding that holds it.
    public mutating func writeInt(_ value: Int64) {
        if value >= 0 {
            writeUInt(UInt64(value))
        } else if value >= -32 {
            bytes.append(UInt8(bitPattern: Int8(value)))
        } else if value >= Int64(Int8.min) {
            bytes.append(0xD0)
            bytes.append(UInt8(bitPattern: Int8(value)))
        } else if value >= Int64(Int16.min) {
            bytes.append(0xD1)
            appendBigEndian(UInt16(bitPattern: Int16(value)))
        } else if value >= Int64(Int32.min) {
            bytes.append(0xD2)
            appendBigEndian(UInt32(bitPattern: Int32(value)))
        } else {
            bytes.append(0xD3)
            appendBigEndian(UInt64(bitPattern: value))
        }
    }

    /// Writes a non-negative integer in the smallest encoding that holds it.
    public mutating func writeUInt(_ value: UInt64) {
        if value <= 0x7F {
            bytes.append(UInt8(value))
        } else if value <= UInt64(UInt8.max) {
            bytes.append(0xCC)
            bytes.append(UInt8(value))
        } else if value <= UInt64(UInt16.max) {
            bytes.append(0xCD)
            appendBigEndian(UInt16(value))
        } else if value <= UInt64(UInt32.max) {
            bytes.append(0xCE)
            appendBigEndian(UInt32(value))
        } else {
            bytes.append(0xCF)
            appendBigEndian(value)
        }
    }

    /// Writes a float64.
    public mutating func writeDouble(_ value: Double) {
        bytes.append(0xCB)
        appendBigEndian(value.bitPattern)
    }

    /// Writes a UTF-8 string (fixstr, str8, str16 or str32).
    public mutating func writeString(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            let count = utf8.count
            if count <= 31 {
                bytes.append(0xA0 | UInt8(count))
            } else if count <= Int(UInt8.max) {
                bytes.append(0xD9)
                bytes.append(UInt8(count))
            } else if count <= Int(UInt16.max) {
                bytes.append(0xDA)
                appendBigEndian(UInt16(count))
            } else {
                bytes.append(0xDB)
                appendBigEndian(UInt32(truncatingIfNeeded: count))
            }
            bytes.append(contentsOf: utf8)
        }
    }

    /// Writes raw bytes as msgpack `bin` (bin8, bin16 or bin32).
    public mutating func writeBinary(_ data: some Collection<UInt8>) {
        let count = data.count
        if count <= Int(UInt8.max) {
            bytes.append(0xC4)
            bytes.append(UInt8(count))
        } else if count <= Int(UInt16.max) {
            bytes.append(0xC5)
            appendBigEndian(UInt16(count))
        } else {
            bytes.append(0xC6)
            appendBigEndian(UInt32(truncatingIfNeeded: count))
        }
        bytes.append(contentsOf: data)
    }

    /// Writes an extension value (fixext1/2/4/8/16 or ext8/16/32).
    public mutating func writeExtension(type: Int8, data: some Collection<UInt8>) {
        let count = data.count
        switch count {
        case 1: bytes.append(0xD4)
        case 2: bytes.append(0xD5)
        case 4: bytes.append(0xD6)
        case 8: bytes.append(0xD7)
        case 16: bytes.append(0xD8)
        default:
            if count <= Int(UInt8.max) {
                bytes.append(0xC7)
                bytes.append(UInt8(count))
            } else if count <= Int(UInt16.max) {
                bytes.append(0xC8)
                appendBigEndian(UInt16(count))
            } else {
                bytes.append(0xC9)
                appendBigEndian(UInt32(truncatingIfNeeded: count))
            }
        }
        bytes.append(UInt8(bitPattern: type))
        bytes.append(contentsOf: data)
    }

    // MARK: Containers

    /// Starts an array of `count` values (fixarray, array16 or array32).
    public mutating func writeArrayHeader(count: Int) {
        if count <= 15 {
            bytes.append(0x90 | UInt8(count))
        } else if count <= Int(UInt16.max) {
            bytes.append(0xDC)
            appendBigEndian(UInt16(count))
        } else {
            bytes.append(0xDD)
            appendBigEndian(UInt32(truncatingIfNeeded: count))
        }
    }

    /// Starts a map of `count` key/value pairs (fixmap, map16 or map32).
    public mutating func writeMapHeader(count: Int) {
        if count <= 15 {
            bytes.append(0x80 | UInt8(count))
        } else if count <= Int(UInt16.max) {
            bytes.append(0xDE)
            appendBigEndian(UInt16(count))
        } else {
            bytes.append(0xDF)
            appendBigEndian(UInt32(truncatingIfNeeded: count))
        }
    }

    // MARK: Values

    /// Writes `value`; map keys in sorted UTF-8 order.
    public mutating func write(_ value: MessagePackValue) {
        switch value {
        case .null: writeNil()
        case .bool(let value): writeBool(value)
        case .int(let value): writeInt(value)
        case .uint(let value): writeUInt(value)
        case .double(let value): writeDouble(value)
        case .string(let value): writeString(value)
        case .binary(let value): writeBinary(value)
        case .array(let values):
            writeArrayHeader(count: values.count)
            for element in values { write(element) }
        case .map(let map):
            writeMapHeader(count: map.count)
            for key in Self.sortedKeys(map) {
                writeString(key)
                write(map[key]!)
            }
        case .extension(let type, let data): writeExtension(type: type, data: data)
        }
    }

    /// Writes a JSON value as MessagePack: objects as maps with sorted keys, `.int` as an integer, `.double` as a
    /// float64.
    public mutating func write(_ value: JSONValue) {
        switch value {
        case .null: writeNil()
        case .bool(let value): writeBool(value)
        case .int(let value): writeInt(value)
        case .double(let value): writeDouble(value)
        case .string(let value): writeString(value)
        case .array(let values):
            writeArrayHeader(count: values.count)
            for element in values { write(element) }
        case .object(let object):
            writeMapHeader(count: object.count)
            for key in Self.sortedKeys(object) {
                writeString(key)
                write(object[key]!)
            }
        }
    }

    /// The keys of `map` sorted by their UTF-8 bytes (Python's `sorted` on `str`, rattler's sorted maps).
    static func sortedKeys<Value>(_ map: [String: Value]) -> [String] {
        var keys = Array(map.keys)
        if keys.count > 1 { keys.sort(by: JSONWriter.utf8Precedes) }
        return keys
    }

    @inline(__always)
    private mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        var bigEndian = value.bigEndian
        withUnsafeBytes(of: &bigEndian) { bytes.append(contentsOf: $0) }
    }
}

extension MessagePackValue {
    /// The MessagePack bytes of the value (see ``MessagePackWriter``).
    public func encoded() -> [UInt8] {
        var writer = MessagePackWriter()
        writer.write(self)
        return writer.bytes
    }
}
