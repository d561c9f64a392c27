import Foundation

/// A MessagePack value, as used by CEP 16 sharded repodata (`repodata_shards.msgpack.zst` and the shards).
///
/// The model is `JSONValue` plus the types MessagePack has and JSON has not: raw bytes (``binary(_:)``, how shards carry
/// `md5`/`sha256`), unsigned integers above `Int64.max` (``uint(_:)``) and extension values. Maps have string keys
/// only, which is all sharded repodata uses; the reader also accepts binary keys that are valid UTF-8, as libmamba
/// does.
public enum MessagePackValue: Hashable, Sendable {
    case null
    case bool(Bool)
    /// Any integer in `Int64`'s range (written in its smallest encoding).
    case int(Int64)
    /// An unsigned integer; the reader produces it only for values above `Int64.max`.
    case uint(UInt64)
    /// A float; the reader widens float32 to `Double`, the writer always writes float64.
    case double(Double)
    case string(String)
    /// msgpack `bin`: raw bytes.
    case binary([UInt8])
    case array([MessagePackValue])
    /// A map with string keys; written with keys sorted by their UTF-8 bytes.
    case map([String: MessagePackValue])
    /// msgpack `ext`: an application-defined type and its bytes (timestamps are type -1).
    case `extension`(type: Int8, data: [UInt8])
}

extension MessagePackValue {
    /// The value stored under `key` when this is a map.
    public subscript(key: String) -> MessagePackValue? {
        if case .map(let map) = self { return map[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The integer, when it is one that fits in `Int64`.
    public var intValue: Int64? {
        switch self {
        case .int(let value): return value
        case .uint(let value): return value <= UInt64(Int64.max) ? Int64(value) : nil
        default: return nil
        }
    }

    public var binaryValue: [UInt8]? {
        if case .binary(let value) = self { return value }
        return nil
    }

    public var arrayValue: [MessagePackValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    public var mapValue: [String: MessagePackValue]? {
        if case .map(let value) = self { return value }
        return nil
    }
}

// MARK: JSON conversion

extension MessagePackValue {
    /// The MessagePack form of a JSON value: objects become maps, everything else maps one to one. No value becomes
    /// ``binary(_:)``; shard records convert their hashes separately (see ``ShardsBuilder``).
    public init(_ json: JSONValue) {
        switch json {
        case .null: self = .null
        case .bool(let value): self = .bool(value)
        case .int(let value): self = .int(value)
        case .double(let value): self = .double(value)
        case .string(let value): self = .string(value)
        case .array(let values): self = .array(values.map(MessagePackValue.init))
        case .object(let object): self = .map(object.mapValues(MessagePackValue.init))
        }
    }

    /// The JSON form of the value, as `repodata.json` would carry it: ``binary(_:)`` becomes a lowercase hex string
    /// (so a shard record's `md5`/`sha256` read back as in repodata), ``uint(_:)`` above `Int64.max` becomes a
    /// double, and an ``extension(type:data:)`` becomes `null`, since JSON has no such value.
    public func jsonValue() -> JSONValue {
        switch self {
        case .null: return .null
        case .bool(let value): return .bool(value)
        case .int(let value): return .int(value)
        case .uint(let value): return value <= UInt64(Int64.max) ? .int(Int64(value)) : .double(Double(value))
        case .double(let value): return .double(value)
        case .string(let value): return .string(value)
        case .binary(let bytes): return .string(HexCoding.encode(bytes))
        case .array(let values): return .array(values.map { $0.jsonValue() })
        case .map(let map): return .object(map.mapValues { $0.jsonValue() })
        case .extension: return .null
        }
    }
}

/// Lowercase hexadecimal encoding and strict decoding of byte strings (hash fields, shard names).
public enum HexCoding {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// `bytes` as lowercase hex, two digits per byte.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            output.append(digits[Int(byte >> 4)])
            output.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The bytes that `hex` spells, or nil when it has an odd length or a character outside `0-9a-fA-F`.
    public static func decode(_ hex: String) -> [UInt8]? {
        var utf8 = hex.utf8
        if let result = utf8.withContiguousStorageIfAvailable({ decode(buffer: $0) }) { return result }
        var copy = hex
        copy.makeContiguousUTF8()
        utf8 = copy.utf8
        return Array(utf8).withUnsafeBufferPointer { decode(buffer: $0) }
    }

    private static func decode(buffer: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard buffer.count % 2 == 0 else { return nil }
        var output = [UInt8](repeating: 0, count: buffer.count / 2)
        var index = 0
        while index < buffer.count {
            guard let high = nibble(buffer[index]), let low = nibble(buffer[index + 1]) else { return nil }
            output[index / 2] = high << 4 | low
            index += 2
        }
        return output
    }

    @inline(__always)
    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
