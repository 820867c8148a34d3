/**
 * The preset dictionary timeline items are compressed with (format 1 of `ev`, see `timeline-item.ts`).
 *
 * A timeline item holds one event or a few, a hundred to a few hundred bytes of JSON: too little for
 * deflate to find repeats in on its own (an analytics.js page view's 320 bytes of JSON become 180). A
 * preset dictionary gives it the strings such JSON is made of before the first byte: the item's own
 * field names, and the names Segment's specs give to page, e-commerce, video, B2B SaaS and mobile
 * events and properties, which analytics.js and the SDKs send. Nothing in it comes from any one
 * deployment's data.
 *
 * Frozen: an item names the format it was written with, and format 1 means exactly these bytes.
 * A better dictionary is format 2, with this one kept to read what format 1 wrote. Deflate finds the
 * strings nearest the end cheapest, so the most frequent come last.
 */
const PARTS = [
  // Spec event names (e-commerce v2, B2B SaaS, mobile, video).
  'Application Installed',
  'Application Opened',
  'Application Updated',
  'Account Created',
  'Trial Started',
  'Invite Sent',
  'Video Playback Started',
  'Video Content Playing',
  'Video Playback Completed',
  'Products Searched',
  'Product List Viewed',
  'Product List Filtered',
  'Promotion Viewed',
  'Promotion Clicked',
  'Product Clicked',
  'Product Removed',
  'Cart Viewed',
  'Checkout Step Viewed',
  'Checkout Step Completed',
  'Payment Info Entered',
  'Order Updated',
  'Order Refunded',
  'Order Cancelled',
  'Coupon Applied',
  'Product Added to Wishlist',
  'Product Shared',
  'Product Reviewed',
  'Signed Up',
  'Signed In',
  'Signed Out',
  // Spec property names.
  '"list_id":"',
  '"query":"',
  '"filters":[',
  '"sorts":[',
  '"promotion_id":"',
  '"creative":"',
  '"checkout_id":"',
  '"step":',
  '"shipping_method":"',
  '"payment_method":"',
  '"affiliation":"',
  '"subtotal":',
  '"shipping":',
  '"tax":',
  '"discount":',
  '"coupon":"',
  '"brand":"',
  '"variant":"',
  '"position":',
  '"image_url":"',
  '"product_id":"',
  '"value":',
  '"keywords":[',
  '"name":"',
  '"category":"',
  '"quantity":',
  '"products":[{',
  '"revenue":',
  '"total":',
  '"currency":"USD"',
  '"currency":"EUR"',
  '"order_id":"',
  '"price":',
  '"sku":"',
  'Order Completed',
  'Checkout Started',
  'Product Added',
  'Product Viewed',
  // Page properties as analytics.js sends them.
  'utm_term=',
  'utm_content=',
  'utm_campaign=',
  'utm_medium=',
  'utm_source=',
  '.html',
  '.com/',
  '"title":"',
  '"search":"?',
  '"referrer":"https://www.',
  '"url":"https://www.',
  '"url":"https://',
  '"path":"/',
  // The item's own field names.
  '"properties":{',
  '"type":"screen","name":"',
  '"type":"page","name":"',
  '"type":"identify"',
  '"type":"group"',
  '"messageId":"',
  '"timestamp":"20',
  '"type":"track","event":"',
  '{"event":"',
];

export const TIMELINE_DICTIONARY_V1 = Buffer.from(PARTS.join(''), 'utf8');
