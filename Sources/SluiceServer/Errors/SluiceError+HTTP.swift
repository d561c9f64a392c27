import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCore

// THE one place where a `SluiceError` becomes an HTTP response. Handlers throw `SluiceError`s and never build error
// responses themselves; `SluiceErrorMiddleware` turns every other error into one of these.

extension SluiceError: HTTPResponseError {
    /// The HTTP status of each error code.
    public var status: HTTPResponse.Status {
        switch code {
        case .notFound: .notFound
        case .invalidInput, .invalidPackage: .badRequest
        case .conflict: .conflict
        case .payloadTooLarge: .contentTooLarge
        case .unauthenticated: .unauthorized
        case .forbidden: .forbidden
        case .tooManyRequests: .tooManyRequests
        case .rangeNotSatisfiable: .rangeNotSatisfiable
        case .upstreamUnavailable: .badGateway
        case .upstreamTimeout: .gatewayTimeout
        default: .internalServerError
        }
    }

    /// The header fields that go with the status: `WWW-Authenticate: Basic realm="Sluice"` on 401, `Retry-After` on
    /// 429.
    public var headers: HTTPFields {
        var fields = HTTPFields()
        fields[.contentType] = "application/json; charset=utf-8"
        if code == .unauthenticated {
            fields[.wwwAuthenticate] = #"Basic realm="Sluice""#
        }
        if code == .tooManyRequests {
            fields[.retryAfter] = String(retryAfter ?? 60)
        }
        return fields
    }

    /// The JSON body: `{"error": "<code>", "message": "..."}`.
    public var responseBody: [UInt8] {
        let body = ErrorBody(error: code.description, message: message)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(body)) ?? Data(#"{"error":"internalError"}"#.utf8))
    }

    /// Builds the error response (`HTTPResponseError`).
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let bytes = responseBody
        var fields = headers
        fields[.contentLength] = String(bytes.count)
        if request.method == .head {
            return Response(status: status, headers: fields)
        }
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

private struct ErrorBody: Encodable {
    var error: String
    var message: String
}
