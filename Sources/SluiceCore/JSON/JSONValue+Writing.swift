import Foundation

extension JSONValue {
    /// Serialises the value as compact JSON (no spaces), object keys sorted by their UTF-8 bytes.
    ///
    /// The output matches Python's `json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`,
    /// which is how conda-index writes repodata: strings escape only `"`, `\` and control characters (`\n`, `\r`,
    /// `\t`, `\b`, `\f`, otherwise `\u00XX`); `/` and non-ASCII characters are written as they are; doubles use the
    /// shortest representation that round-trips (`1.0`, `1e-05`, `1e+16`). Non-finite doubles become `null`.
    public func compactJSON() -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(256)
        write(into: &output)
        return output
    }

    /// Appends the compact JSON form of the value (see ``compactJSON()``) to `output`.
    public func write(into output: inout [UInt8]) {
        switch self {
        case .null:
            JSONWriter.appendLiteral("null", to: &output)
        case .bool(let value):
            JSONWriter.appendLiteral(value ? "true" : "false", to: &output)
        case .int(let value):
            JSONWriter.appendInteger(value, to: &output)
        case .double(let value):
            JSONWriter.appendDouble(value, to: &output)
        case .string(let value):
            JSONWriter.appendString(value, to: &output)
        case .array(let values):
            output.append(UInt8(ascii: "["))
            var first = true
            for value in values {
                if !first { output.append(UInt8(ascii: ",")) }
                first = false
                value.write(into: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let object):
            JSONWriter.appendObject(object, to: &output)
        }
    }
}

/// Byte-level helpers for writing compact JSON; also used by the repodata builder to write objects whose values are
/// themselves written lazily.
enum JSONWriter {
    @inline(__always)
    static func appendLiteral(_ literal: StaticString, to output: inout [UInt8]) {
        output.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Whether `lhs` sorts before `rhs` by UTF-8 bytes (equal to code point order, as Python's `sorted` on `str`).
    @inline(__always)
    static func utf8Precedes(_ lhs: String, _ rhs: String) -> Bool {
        let result = lhs.utf8.withContiguousStorageIfAvailable { left in
            rhs.utf8.withContiguousStorageIfAvailable { right -> Bool in
                let count = min(left.count, right.count)
                if count > 0, let l = left.baseAddress, let r = right.baseAddress {
                    let comparison = memcmp(l, r, count)
                    if comparison != 0 { return comparison < 0 }
                }
                return left.count < right.count
            }
        }
        if let result, let result { return result }
        return lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
    }

    static func appendObject(_ object: [String: JSONValue], to output: inout [UInt8]) {
        output.append(UInt8(ascii: "{"))
        if !object.isEmpty {
            var pairs = Array(object)
            pairs.sort { utf8Precedes($0.key, $1.key) }
            var first = true
            for (key, value) in pairs {
                if !first { output.append(UInt8(ascii: ",")) }
                first = false
                appendString(key, to: &output)
                output.append(UInt8(ascii: ":"))
                value.write(into: &output)
            }
        }
        output.append(UInt8(ascii: "}"))
    }

    /// Writes `object` with one more member, `extraKey: extraValue`, merged in sorted position (replacing a member
    /// of the same name), without copying the dictionary.
    static func appendObject(
        _ object: [String: JSONValue], extraKey: String, extraValue: JSONValue, to output: inout [UInt8]
    ) {
        var pairs = object.filter { $0.key != extraKey }.map { ($0.key, $0.value) }
        pairs.append((extraKey, extraValue))
        pairs.sort { utf8Precedes($0.0, $1.0) }
        output.append(UInt8(ascii: "{"))
        var first = true
        for (key, value) in pairs {
            if !first { output.append(UInt8(ascii: ",")) }
            first = false
            appendString(key, to: &output)
            output.append(UInt8(ascii: ":"))
            value.write(into: &output)
        }
        output.append(UInt8(ascii: "}"))
    }

    static func appendInteger(_ value: Int64, to output: inout [UInt8]) {
        if value == 0 {
            output.append(UInt8(ascii: "0"))
            return
        }
        var magnitude = value.magnitude
        if value < 0 { output.append(UInt8(ascii: "-")) }
        // 20 digits are enough for UInt64.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var position = 20
            while magnitude > 0 {
                position -= 1
                digits[position] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: digits[position..<20]))
        }
    }

    static func appendDouble(_ value: Double, to output: inout [UInt8]) {
        guard value.isFinite else {
            appendLiteral("null", to: &output)
            return
        }
        // Swift's description is the shortest round-trip form and uses the same notation thresholds as Python's
        // repr (exponent below -4 or at least 16 switches to scientific, with a sign and two-digit exponent).
        output.append(contentsOf: value.description.utf8)
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    @inline(__always)
    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    static func appendString(_ string: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        let done: Void? = string.utf8.withContiguousStorageIfAvailable { bytes in
            appendEscaped(bytes, to: &output)
        }
        if done == nil {
            let bytes = Array(string.utf8)
            bytes.withUnsafeBufferPointer { appendEscaped($0, to: &output) }
        }
        output.append(UInt8(ascii: "\""))
    }

    static func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, to output: inout [UInt8]) {
        var runStart = 0
        var index = 0
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            if needsEscape(byte) {
                if index > runStart {
                    output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
                }
                output.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""): output.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): output.append(UInt8(ascii: "\\"))
                case 0x0A: output.append(UInt8(ascii: "n"))
                case 0x0D: output.append(UInt8(ascii: "r"))
                case 0x09: output.append(UInt8(ascii: "t"))
                case 0x08: output.append(UInt8(ascii: "b"))
                case 0x0C: output.append(UInt8(ascii: "f"))
                default:
                    output.append(UInt8(ascii: "u"))
                    output.append(UInt8(ascii: "0"))
                    output.append(UInt8(ascii: "0"))
                    output.append(hexDigits[Int(byte >> 4)])
                    output.append(hexDigits[Int(byte & 0x0F)])
                }
                runStart = index + 1
            }
            index += 1
        }
        if count > runStart {
            output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<count]))
        }
    }
}
