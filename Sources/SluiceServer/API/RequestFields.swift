import Foundation
import Hummingbird
import NIOCore
import SluiceCore

/// The fields of a small request body: a JSON object, or an `application/x-www-form-urlencoded` form (whose values
/// are all strings). Management calls accept both, as ProGet's do.
struct RequestFields: Sendable {
    var values: [String: JSONValue]

    /// The largest management request body accepted.
    static let maximumBodySize = 1 << 20

    /// Reads and parses the body.
    /// - Throws: `SluiceError.invalidInput` if the body is not a JSON object or a form, `.payloadTooLarge` over 1 MiB.
    static func read(from request: Request, allowEmpty: Bool = false) async throws -> RequestFields {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maximumBodySize)
        } catch is NIOTooManyBytesError {
            throw SluiceError(.payloadTooLarge, "The request body is larger than \(maximumBodySize) bytes.")
        }
        let bytes = buffer.readableBytesView
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            if allowEmpty { return RequestFields(values: [:]) }
            throw SluiceError.invalidInput("The request body is empty; send a JSON object.")
        }
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        if contentType.hasPrefix("application/x-www-form-urlencoded") {
            return RequestFields(values: parseForm(String(decoding: bytes, as: UTF8.self)))
        }
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            throw SluiceError(.invalidInput, "The request body is not valid JSON: \(error.message)", cause: error)
        }
        guard let object = value.objectValue else {
            throw SluiceError.invalidInput("The request body must be a JSON object.")
        }
        return RequestFields(values: object)
    }

    private static func parseForm(_ text: String) -> [String: JSONValue] {
        var result: [String: JSONValue] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String {
                String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(part)
            }
            result[decode(parts[0])] = .string(parts.count > 1 ? decode(parts[1]) : "")
        }
        return result
    }

    /// A string field; nil when absent or null.
    /// - Throws: `SluiceError.invalidInput` when present with another type.
    func string(_ key: String) throws(SluiceError) -> String? {
        switch values[key] {
        case nil, .null?: return nil
        case .string(let value)?: return value
        default: throw .invalidInput("'\(key)' must be a string.")
        }
    }

    /// Whether the body has `key` at all, even with a null value (a partial update tells "leave it" from "clear it").
    func contains(_ key: String) -> Bool {
        values[key] != nil
    }

    /// An integer field (a JSON integer, or a string of digits from a form); nil when absent or null.
    /// - Throws: `SluiceError.invalidInput` when present with another value.
    func int(_ key: String) throws(SluiceError) -> Int? {
        switch values[key] {
        case nil, .null?: return nil
        case .int(let value)?:
            if let exact = Int(exactly: value) { return exact }
        case .double(let value)?:
            if value.rounded() == value, let exact = Int(exactly: value) { return exact }
        case .string(let text)?:
            if let value = Int(text.trimmingCharacters(in: .whitespaces)) { return value }
        default: break
        }
        throw .invalidInput("'\(key)' must be a whole number.")
    }

    /// A list of strings: a JSON array of strings, or (from a form, or for convenience) one string whose items are
    /// separated by commas, spaces or newlines. Array items are returned as sent (the caller validates them); nil when
    /// absent or null.
    /// - Throws: `SluiceError.invalidInput` when present with another type.
    func stringList(_ key: String) throws(SluiceError) -> [String]? {
        switch values[key] {
        case nil, .null?:
            return nil
        case .string(let text)?:
            return text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" })
                .map(String.init)
        case .array(let items)?:
            var result: [String] = []
            for item in items {
                guard case .string(let text) = item else {
                    throw .invalidInput("'\(key)' must be a list of strings.")
                }
                result.append(text)
            }
            return result
        default:
            throw .invalidInput("'\(key)' must be a list of strings.")
        }
    }

    /// A boolean field (`true`/`false`, or the strings `"true"`/`"false"` from a form); nil when absent or null.
    /// - Throws: `SluiceError.invalidInput` when present with another value.
    func bool(_ key: String) throws(SluiceError) -> Bool? {
        switch values[key] {
        case nil, .null?: return nil
        case .bool(let value)?: return value
        case .string(let text)? where text.lowercased() == "true": return true
        case .string(let text)? where text.lowercased() == "false": return false
        default: throw .invalidInput("'\(key)' must be true or false.")
        }
    }
}
