package fluxj.server;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The body of an OpenAI edit in either of OpenAI's forms: {@code multipart/form-data} with the image files, or
 * {@code application/json} with the images inline, {@code "images": [{"image_url": "data:image/png;base64,..."}]}
 * and {@code "mask": {"image_url": ...}}. Both carry the same other fields; either form holds at most the limits' number
 * of images, checked before any is decoded or saved.
 *
 * @param fields the other fields
 * @param images the images to edit, each named by its field (for errors)
 * @param mask   the mask, or null
 */
record EditBody(Fields fields, List<Multipart.Upload> images, Multipart.Upload mask) {
    static EditBody read(Call c, Limits limits) throws IOException {
        String type = c.header("Content-Type");
        String t = type == null ? "" : type.toLowerCase(Locale.ROOT);
        if (t.startsWith("application/json")) return json(c.json(), limits);
        if (!t.startsWith("multipart/form-data")) {
            throw ApiException.invalid(null, "the body must be multipart/form-data (with the image files) or application/json (with the images as data URLs), got "
                    + (type == null ? "no Content-Type" : type));
        }
        Multipart.Form form = Multipart.parse(c, limits.maxBodyBytes());
        List<Multipart.Upload> masks = form.files("mask");
        if (masks.size() > 1) throw ApiException.invalid("mask", "give one mask");
        List<Multipart.Upload> images = form.files("image", "image[]");
        if (images.isEmpty()) throw ApiException.invalid("image", "is required: the image to edit, a PNG or JPEG file");
        if (images.size() > limits.maxImages()) throw ApiException.invalid("image", "at most " + limits.maxImages() + " images");
        return new EditBody(Fields.of(form.fields()), images, masks.isEmpty() ? null : masks.getFirst());
    }

    /** The name of the images' field in this body's form, for errors about them all. */
    String imagesField() {
        return images.getFirst().field().startsWith("images[") ? "images" : "image";
    }

    private static EditBody json(Fields f, Limits limits) {
        if (f.has("image")) throw ApiException.invalid("image", "a JSON edit gives its images as \"images\": [{\"image_url\": \"data:image/png;base64,...\"}]");
        List<?> refs = f.list("images");
        if (refs == null || refs.isEmpty()) throw ApiException.invalid("images", "is required: a list of {\"image_url\": \"data:image/png;base64,...\"}");
        if (refs.size() > limits.maxImages()) throw ApiException.invalid("images", "at most " + limits.maxImages() + " images");
        List<Multipart.Upload> images = new ArrayList<>();
        for (int i = 0; i < refs.size(); i++) images.add(reference("images[" + i + "]", refs.get(i)));
        Object mask = f.raw().get("mask");
        return new EditBody(f, images, mask == null ? null : reference("mask", mask));
    }

    /** An ImageRefParam, {@code {"image_url": ...}} or {@code {"file_id": ...}}: only inline data URLs are taken. */
    private static Multipart.Upload reference(String field, Object ref) {
        if (!(ref instanceof Map<?, ?> m)) throw ApiException.invalid(field, "must be an object {\"image_url\": \"data:image/png;base64,...\"}");
        if (m.get("file_id") != null) {
            throw ApiException.invalid(field + ".file_id", "this server has no Files API: send the image inline as \"image_url\": \"data:image/png;base64,...\"");
        }
        Object url = m.get("image_url");
        String name = field + ".image_url";
        if (url == null) throw ApiException.invalid(name, "is required: a data URL, data:image/png;base64,...");
        if (!(url instanceof String s)) throw ApiException.invalid(name, "must be a string, a data URL");
        String lower = s.strip().toLowerCase(Locale.ROOT);
        // Fetching a client's URL would let any client make the server request addresses only it can reach
        // (server-side request forgery: metadata services, the LAN) and needs a network the server may not have;
        // the images come inline instead.
        if (lower.startsWith("http://") || lower.startsWith("https://")) {
            throw ApiException.invalid(name, "this server does not fetch images from URLs: send the image inline as a data URL (data:image/png;base64,...)");
        }
        if (!lower.startsWith("data:")) throw ApiException.invalid(name, "must be a data URL (data:image/png;base64,...)");
        return new Multipart.Upload(name, null, Uploads.base64(name, s));
    }
}
