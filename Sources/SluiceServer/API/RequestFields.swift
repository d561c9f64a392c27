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
