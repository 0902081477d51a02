/**
 * Deterministic, realistic-looking catalog rows. Category sizes follow a Zipf law (the largest
 * category holds about a fifth of all products, the smallest a handful), about one product in ten is
 * inactive at random positions, prices are spread over three orders of magnitude, and names mix a
 * few hundred words so text search has common and rare terms.
 */
import { createRandom, pickWeighted, zipfCumulative } from './random.js';

export const CATEGORY_NAMES = [
  'Books',
  'Electronics',
  'Home & Kitchen',
  'Clothing',
  'Sports & Outdoors',
  'Toys & Games',
  'Beauty',
  'Health',
  'Automotive',
  'Garden',
  'Office Supplies',
  'Pet Supplies',
  'Music',
  'Movies',
  'Tools',
  'Grocery',
  'Baby',
  'Jewelry',
  'Shoes',
  'Luggage',
  'Software',
  'Video Games',
  'Camera & Photo',
  'Musical Instruments',
  'Arts & Crafts',
  'Industrial',
  'Watches',
  'Furniture',
  'Lighting',
  'Bedding',
  'Bath',
  'Party Supplies',
  'Collectibles',
  'Handmade',
  'Stationery',
  'Smart Home',
  'Cycling',
  'Fishing',
  'Camping',
  'Vintage',
] as const;

const ADJECTIVES = [
  'compact',
  'classic',
  'premium',
  'rugged',
  'wireless',
  'portable',
  'organic',
  'vintage',
  'modern',
  'ergonomic',
  'waterproof',
  'lightweight',
  'deluxe',
  'handcrafted',
  'smart',
  'foldable',
  'durable',
  'eco',
  'heavy-duty',
  'minimalist',
  'adjustable',
  'insulated',
  'reversible',
  'magnetic',
  'quiet',
];
const MATERIALS = [
  'bamboo',
  'steel',
  'leather',
  'cotton',
  'ceramic',
  'walnut',
  'aluminium',
  'glass',
  'linen',
  'wool',
  'silicone',
  'copper',
  'oak',
  'carbon',
  'marble',
  'canvas',
  'titanium',
  'cork',
  'denim',
  'velvet',
];
const NOUNS = [
  'lamp',
  'backpack',
  'kettle',
  'notebook',
  'headphones',
  'chair',
  'mug',
  'speaker',
  'jacket',
  'tent',
  'bottle',
  'keyboard',
  'blender',
  'wallet',
  'sneakers',
  'watch',
  'pillow',
  'drill',
  'camera',
  'guitar',
  'desk',
  'scarf',
  'skillet',
  'charger',
  'helmet',
  'puzzle',
  'candle',
  'vase',
  'router',
  'blanket',
  'knife',
  'tripod',
  'stroller',
  'umbrella',
  'mixer',
  'easel',
  'kayak',
  'lantern',
  'monitor',
  'teapot',
];
const PHRASES = [
  'built to last',
  'easy to clean',
  'ships in recycled packaging',
  'two year warranty',
  'gift ready',
  'designed in small batches',
  'fits most spaces',
  'tested for daily use',
  'low energy use',
  'replaceable parts',
  'suits beginners and experts',
  'travel friendly',
  'quiet operation',
];

export interface ProductRow {
  sku: string;
  categoryId: number;
  name: string;
  description: string;
  priceCents: number;
  stock: number;
  active: boolean;
}

export function categoryRows(): { slug: string; name: string }[] {
  return CATEGORY_NAMES.map((name) => ({
    name,
    slug: name
      .toLowerCase()
      .replace(/&/g, 'and')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, ''),
  }));
}

/** Yields `count` products; category ids are 1-based positions in CATEGORY_NAMES. */
export function* productRows(count: number, seed: number): Generator<ProductRow> {
  const random = createRandom(seed);
  // Shuffle which category is big so "Books" is not always the giant; still deterministic.
  const categoryIds = CATEGORY_NAMES.map((_, index) => index + 1);
  for (let index = categoryIds.length - 1; index > 0; index -= 1) {
    const other = Math.floor(random() * (index + 1));
    [categoryIds[index], categoryIds[other]] = [categoryIds[other] as number, categoryIds[index] as number];
  }
  const sizes = zipfCumulative(categoryIds.length, 1.3);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

  for (let index = 1; index <= count; index += 1) {
    const adjective = pick(ADJECTIVES);
    const material = pick(MATERIALS);
    const noun = pick(NOUNS);
    // Log-uniform price between $1 and $2,000.
    const priceCents = Math.round(100 * Math.exp(random() * Math.log(2_000)));
    yield {
      sku: `SKU-${String(index).padStart(8, '0')}`,
      categoryId: categoryIds[pickWeighted(sizes, random)] as number,
      name: `${capitalize(adjective)} ${material} ${noun}`,
      description: `A ${adjective} ${noun} made of ${material}: ${pick(PHRASES)}, ${pick(PHRASES)}.`,
      priceCents,
      stock: random() < 0.05 ? 0 : Math.floor(random() * 500),
      active: random() >= 0.1,
    };
  }
}

function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
